import { randomBytes } from 'node:crypto';
import { rotateMasterKey } from '../../src/cli';
import { TenantKeyring } from '../../src/crypto/tenant-keyring';
import { main } from '../../src/main';
import { Channel, Role } from '../../src/schema/enums';
import { lockRegistry } from '../../src/db/registry-lock';
import { KeyRotationService } from '../../src/services/key-rotation.service';
import { importFile, registryCsv, registryRow, residentRows } from '../helpers/registry-csv';
import { REGISTER, registerResident, residentInput, TestApp } from '../helpers/test-app';

let t: TestApp;
const masterKey = randomBytes(32);
beforeAll(async () => {
  t = await TestApp.start({ masterKey });
});
afterAll(() => t.stop());

const READ = 'query($id: ID!) { resident(id: $id) { myNumber } }';
// As the operator's shell runs these jobs.
const cli = { requestId: 'key-rotation-test', channel: 'CLI', actor: null };
/** The key jobs' lines in a municipality's operation log, in chain order. */
const keyEvents = (code: string): Promise<unknown[]> => t.db.query(
  `SELECT operation, target_ids, channel, actor_id, outcome FROM audit_event
   WHERE municipality_code = $1 AND operation LIKE 'tenantKey.%' ORDER BY seq`,
  [code],
);
const LOOKUP = 'query($n: String!) { residentByMyNumber(myNumber: $n) { id } }';

describe('key management', () => {
  it('rotates a municipality\'s data key without interrupting reads or look-ups', async () => {
    const { code, officer } = await t.tenant();
    const first = await registerResident(officer);
    const [before] = await t.db.query('SELECT my_number_cipher, key_version FROM resident WHERE id = $1', [first.id]);

    // A new version exists but rows are not moved yet: both still work, new rows use the new key.
    await t.app.services.keyRotation.reencrypt(cli, code);
    const keys = await t.app.services.keyring.rotate(t.db.manager, code);
    expect(keys.version).toBe(2);
    const second = await registerResident(officer);
    expect((await t.db.query('SELECT key_version FROM resident WHERE id = $1', [second.id]))[0].key_version).toBe(2);
    expect((await officer.gql(READ, { id: first.id })).data.resident.myNumber).toBe(first.input.myNumber);
    expect((await officer.gql(LOOKUP, { n: first.input.myNumber })).data.residentByMyNumber).toEqual({ id: first.id });

    const moved = await t.app.services.keyRotation.reencrypt(cli, code);
    expect(moved).toBe(1);
    const [after] = await t.db.query('SELECT my_number_cipher, key_version FROM resident WHERE id = $1', [first.id]);
    expect(after.key_version).toBe(2);
    expect(Buffer.compare(after.my_number_cipher, before.my_number_cipher)).not.toBe(0);
    expect((await officer.gql(READ, { id: first.id })).data.resident.myNumber).toBe(first.input.myNumber);
    expect((await officer.gql(LOOKUP, { n: first.input.myNumber })).data.residentByMyNumber).toEqual({ id: first.id });
    expect(await t.app.services.keyRotation.reencrypt(cli, code)).toBe(0);
  });

  it('moves residents onto the new key in batches, each resident keeping its own number', async () => {
    const { code, officer } = await t.tenant();
    const residents = [];
    for (let i = 0; i < 5; i++) residents.push(await registerResident(officer));
    expect(await t.app.services.keyRotation.rotateTenantKey(cli, code, 2)).toEqual({ version: 2, reencrypted: 5 });
    const versions = await t.db.query('SELECT DISTINCT key_version FROM resident WHERE municipality_code = $1', [code]);
    expect(versions).toEqual([{ key_version: 2 }]);
    // The new key, then each batch as it committed, naming its residents: ids and counts, no number and no key.
    const events = await keyEvents(code) as { operation: string; target_ids: string[]; channel: string; actor_id: null; outcome: string }[];
    expect(events.map((e) => [e.operation, ...e.target_ids.slice(0, 2)])).toEqual([
      ['tenantKey.rotate', 'version:2'],
      ['tenantKey.reencrypt', 'version:2', 'count:2'],
      ['tenantKey.reencrypt', 'version:2', 'count:2'],
      ['tenantKey.reencrypt', 'version:2', 'count:1'],
    ]);
    expect(events.every((e) => e.channel === 'CLI' && e.actor_id === null && e.outcome === 'SUCCESS')).toBe(true);
    const named = events.slice(1).map((e) => e.target_ids.slice(2));
    expect(named.map((ids) => ids.length)).toEqual([2, 2, 1]);
    expect(named.flat().sort()).toEqual(residents.map((r) => r.id).sort());
    for (const r of residents) {
      expect((await officer.gql(READ, { id: r.id })).data.resident.myNumber).toBe(r.input.myNumber);
      expect((await officer.gql(LOOKUP, { n: r.input.myNumber })).data.residentByMyNumber).toEqual({ id: r.id });
    }
  });

  it('registers a number under the newest key only after any writer of the same municipality has committed', async () => {
    const { code, officer } = await t.tenant();
    await registerResident(officer);
    await t.app.services.keyring.rotate(t.db.manager, code);
    const number = String(residentInput().myNumber);
    const old = await t.app.services.keyring.keysForVersion(t.db.manager, code, 1);
    // A server that has not noticed the rotation writes the same number under the old key, beside this registration.
    const stale = t.db.createQueryRunner();
    await stale.connect();
    let registering: Promise<any>;
    try {
      await stale.startTransaction();
      await stale.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`my-number:${code}`]);
      registering = officer.gql(REGISTER, { input: residentInput({ myNumber: number }) });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await stale.query(
        `INSERT INTO resident (municipality_code, id, addressee_number, my_number_cipher, my_number_hmac, key_version, family_name, given_name,
           family_name_kana, given_name_kana, birth_date, sex) VALUES ($1, gen_random_uuid(), 'STALE-1', $2, $3, 1, '山田', '花子', 'ヤマダ', 'ハナコ', '1980-04-01', 'FEMALE')`,
        [code, old.encrypt(number), old.lookupHash(number)],
      );
      await stale.commitTransaction();
    } finally {
      await stale.release();
    }
    expect((await registering!).data.registerResident.userErrors).toEqual([
      { field: ['input', 'myNumber'], code: 'DUPLICATE', message: 'another resident of this municipality has this My Number' },
    ]);
  });

  it('re-encrypts rows that another transaction held when their batch came, before it returns', async () => {
    const { code, officer } = await t.tenant();
    const residents = [];
    for (let i = 0; i < 3; i++) residents.push(await registerResident(officer));
    await t.app.services.keyring.rotate(t.db.manager, code);
    const holder = t.db.createQueryRunner();
    await holder.connect();
    let reencrypting: Promise<number>;
    try {
      await holder.startTransaction();
      await holder.query('SELECT 1 FROM resident WHERE municipality_code = $1 AND id = $2 FOR UPDATE', [code, residents[0].id]);
      reencrypting = t.app.services.keyRotation.reencrypt(cli, code);
      await new Promise((resolve) => setTimeout(resolve, 500));
      await holder.commitTransaction();
    } finally {
      await holder.release();
    }
    expect(await reencrypting!).toBe(3);
    expect(await t.db.query('SELECT DISTINCT key_version FROM resident WHERE municipality_code = $1', [code])).toEqual([{ key_version: 2 }]);
  });

  it('registers under the new key a resident whose registration began before the server noticed the rotation', async () => {
    const { code, officer } = await t.tenant();
    await registerResident(officer);
    // The rotation comes from the operator's shell, another process: this server still holds version 1 for up to a minute.
    const shell = new KeyRotationService(t.db, new TenantKeyring(masterKey));
    await shell.newKeyVersion(cli, code);
    // A registration at the end of that minute, still in flight when the rotation's last pass finds nothing left.
    const holder = t.db.createQueryRunner();
    await holder.connect();
    let registering: Promise<{ id: string }>;
    try {
      await holder.startTransaction();
      await holder.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`my-number:${code}`]);
      registering = registerResident(officer);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await shell.reencrypt(cli, code)).toBe(1);
      await holder.commitTransaction();
    } finally {
      await holder.release();
    }
    const { id } = await registering!;
    expect(await t.db.query('SELECT key_version FROM resident WHERE id = $1', [id])).toEqual([{ key_version: 2 }]);
  });

  it('starts a new key only once a registration under the current one has committed, and re-encrypts it', async () => {
    const { code, officer } = await t.tenant();
    await registerResident(officer);
    await t.app.services.keyRotation.rotateTenantKey(cli, code);
    // A registration that has taken its key (version 2) and waits its turn to check the number.
    const holder = t.db.createQueryRunner();
    await holder.connect();
    let registering: Promise<{ id: string }>;
    let rotating: Promise<{ version: number; reencrypted: number }>;
    try {
      await holder.startTransaction();
      await holder.query('SELECT pg_advisory_xact_lock(hashtextextended($1, 0))', [`my-number:${code}`]);
      registering = registerResident(officer);
      await new Promise((resolve) => setTimeout(resolve, 300));
      rotating = new KeyRotationService(t.db, new TenantKeyring(masterKey)).rotateTenantKey(cli, code);
      await new Promise((resolve) => setTimeout(resolve, 300));
      await holder.commitTransaction();
    } finally {
      await holder.release();
    }
    const { id } = await registering!;
    expect(await rotating!).toEqual({ version: 3, reencrypted: 2 });
    expect(await t.db.query('SELECT key_version FROM resident WHERE id = $1', [id])).toEqual([{ key_version: 3 }]);
  });

  it('starts a new key only once an import merging into the municipality has committed, so My Number stays unique', async () => {
    const { code, officer } = await t.tenant();
    await registerResident(officer);
    const number = String(residentInput().myNumber);
    const old = await t.app.services.keyring.keysForVersion(t.db.manager, code, 1);
    // An import past its checks: it holds the registry lock and writes the number under the key it staged with.
    const merging = t.db.createQueryRunner();
    await merging.connect();
    let rotating: Promise<{ version: number; reencrypted: number }>;
    let registering: Promise<any>;
    try {
      await merging.startTransaction();
      await lockRegistry(merging, code);
      await merging.query(
        `INSERT INTO resident (municipality_code, id, addressee_number, my_number_cipher, my_number_hmac, key_version, family_name, given_name,
           family_name_kana, given_name_kana, birth_date, sex) VALUES ($1, gen_random_uuid(), 'IMPORTED-1', $2, $3, 1, '山田', '花子', 'ヤマダ', 'ハナコ', '1980-04-01', 'FEMALE')`,
        [code, old.encrypt(number), old.lookupHash(number)],
      );
      rotating = t.app.services.keyRotation.rotateTenantKey(cli, code);
      await new Promise((resolve) => setTimeout(resolve, 300));
      // An officer registers the same number meanwhile: under a new key its hash would escape the import's row.
      registering = officer.gql(REGISTER, { input: residentInput({ myNumber: number }) });
      await new Promise((resolve) => setTimeout(resolve, 300));
      await merging.commitTransaction();
    } finally {
      await merging.release();
    }
    expect((await registering!).data.registerResident.userErrors).toEqual([
      { field: ['input', 'myNumber'], code: 'DUPLICATE', message: 'another resident of this municipality has this My Number' },
    ]);
    expect(await rotating!).toEqual({ version: 2, reencrypted: 2 });
    const holders = await officer.gql(LOOKUP, { n: number });
    expect(holders.data.residentByMyNumber).toEqual({ id: expect.any(String) });
    expect(await t.db.query('SELECT DISTINCT key_version FROM resident WHERE municipality_code = $1', [code])).toEqual([{ key_version: 2 }]);
  });

  it('re-wraps data keys under a new master key; the old one still opens them during the change', async () => {
    const { code, officer } = await t.tenant();
    const { id, input } = await registerResident(officer);
    // A municipality the rotation has not reached yet: its key is still wrapped by the old master key.
    const untouched = await t.tenant();
    const pending = await registerResident(untouched.officer);
    const newMaster = randomBytes(32);
    const rotation = new KeyRotationService(t.db, new TenantKeyring(newMaster, masterKey));
    // Other test files share this database with their own master keys, so only this tenant is re-wrapped here.
    expect(await rotation.rotateMasterKey(cli, [code])).toEqual({ rewrapped: 1, unchanged: 0 });
    expect(await keyEvents(code)).toEqual([
      { operation: 'tenantKey.rewrap', target_ids: ['version:1', 'count:1'], channel: 'CLI', actor_id: null, outcome: 'SUCCESS' },
    ]);
    expect(await keyEvents(untouched.code)).toEqual([]);

    const [row] = await t.db.query('SELECT my_number_cipher, key_version FROM resident WHERE id = $1', [id]);
    const withNew = new TenantKeyring(newMaster);
    expect((await withNew.keysForVersion(t.db.manager, code, row.key_version)).decrypt(row.my_number_cipher)).toBe(input.myNumber);
    const withOldOnly = new TenantKeyring(randomBytes(32), masterKey);
    await expect(withOldOnly.keysForVersion(t.db.manager, code, row.key_version)).rejects.toThrow();
    const stale = new TenantKeyring(masterKey);
    await expect(stale.keysForVersion(t.db.manager, code, row.key_version)).rejects.toThrow();
    const rolling = new TenantKeyring(newMaster, masterKey);
    expect((await rolling.keysForVersion(t.db.manager, code, row.key_version)).decrypt(row.my_number_cipher)).toBe(input.myNumber);
    const [old] = await t.db.query('SELECT my_number_cipher, key_version FROM resident WHERE id = $1', [pending.id]);
    expect((await rolling.keysForVersion(t.db.manager, untouched.code, old.key_version)).decrypt(old.my_number_cipher)).toBe(pending.input.myNumber);
  });

  it('changes the master key in the documented order without losing a data key, one made by a server not yet restarted included', async () => {
    const newMaster = randomBytes(32);
    // `t` is a server still on the old master key; `restarted` already runs with MASTER_KEY=new, PREVIOUS_MASTER_KEY=old.
    const restarted = await TestApp.start({ masterKey: newMaster, previousMasterKey: masterKey });
    const final = await TestApp.start({ masterKey: newMaster });
    try {
      const before = await t.tenant();
      const underNew = await restarted.tenant();
      const lagging = await t.tenant();
      const residents = [
        { code: before.code, ...await registerResident(before.officer) },
        { code: underNew.code, ...await registerResident(underNew.officer) },
        { code: lagging.code, ...await registerResident(lagging.officer) },
      ];
      const codes = [before.code, underNew.code, lagging.code];
      const rotation = new KeyRotationService(t.db, new TenantKeyring(newMaster, masterKey));
      expect(await rotation.rotateMasterKey(cli, codes)).toEqual({ rewrapped: 2, unchanged: 1 });
      expect(await keyEvents(underNew.code)).toEqual([]);

      // The lagging server makes one more key after the re-wrap: dropping PREVIOUS_MASTER_KEY now would lose it.
      const late = await t.tenant();
      residents.push({ code: late.code, ...await registerResident(late.officer) });
      codes.push(late.code);
      await expect(new TenantKeyring(newMaster).checkMasterKeys(t.db.manager, codes)).rejects.toThrow(
        `data keys open with neither MASTER_KEY nor PREVIOUS_MASTER_KEY, so these municipalities' My Numbers could not be read: ${late.code} (1 in all); `
        + 'if MASTER_KEY was changed, set PREVIOUS_MASTER_KEY to the former key, then run `npm run cli -- rotate-master-key` before removing it',
      );
      expect(await new TenantKeyring(newMaster, masterKey).checkMasterKeys(t.db.manager, codes)).toEqual([late.code]);
      // Run again, the re-wrap takes that key and leaves the others.
      expect(await rotation.rotateMasterKey(cli, codes)).toEqual({ rewrapped: 1, unchanged: 3 });
      expect(await rotation.rotateMasterKey(cli, codes)).toEqual({ rewrapped: 0, unchanged: 4 });
      expect(await keyEvents(late.code)).toEqual([
        { operation: 'tenantKey.rewrap', target_ids: ['version:1', 'count:1'], channel: 'CLI', actor_id: null, outcome: 'SUCCESS' },
      ]);
      expect(await new TenantKeyring(newMaster).checkMasterKeys(t.db.manager, codes)).toEqual([]);

      // Every server now runs on the new key alone and reads every municipality's My Numbers.
      for (const r of residents) {
        const officer = await final.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: r.code });
        expect((await officer.gql(READ, { id: r.id })).data.resident.myNumber).toBe(r.input.myNumber);
      }
    } finally {
      await restarted.stop();
      await final.stop();
    }
  });

  it('has the re-wrap and the creation of a data key wait for each other, so none is missed', async () => {
    const newMaster = randomBytes(32);
    const rotation = new KeyRotationService(t.db, new TenantKeyring(newMaster, masterKey));
    const settled = (promise: Promise<unknown>) => Promise.race([promise.then(() => true), new Promise((resolve) => setTimeout(() => resolve(false), 300))]);

    // A key being created under the old master key when the re-wrap starts: the re-wrap waits for it, and takes it.
    const inFlight = await t.createMunicipality();
    const creator = t.db.createQueryRunner();
    await creator.connect();
    let rewrapping: Promise<{ rewrapped: number; unchanged: number }>;
    try {
      await creator.startTransaction();
      await new TenantKeyring(masterKey).keysFor(creator.manager, inFlight);
      rewrapping = rotation.rotateMasterKey(cli, [inFlight]);
      expect(await settled(rewrapping)).toBe(false);
      await creator.commitTransaction();
    } finally {
      await creator.release();
    }
    expect(await rewrapping!).toEqual({ rewrapped: 1, unchanged: 0 });
    expect(await new TenantKeyring(newMaster).checkMasterKeys(t.db.manager, [inFlight])).toEqual([]);

    // A municipality's first resident while the re-wrap runs: its key waits for the re-wrap's commit, then is made.
    const restarted = await TestApp.start({ masterKey: newMaster, previousMasterKey: masterKey });
    const rewrap = t.db.createQueryRunner();
    await rewrap.connect();
    try {
      const { code, officer } = await restarted.tenant();
      await rewrap.startTransaction();
      await new TenantKeyring(newMaster, masterKey).rewrap(rewrap.manager, [code]);
      const registering = registerResident(officer);
      expect(await settled(registering)).toBe(false);
      await rewrap.commitTransaction();
      const { id, input } = await registering;
      expect((await officer.gql(READ, { id })).data.resident.myNumber).toBe(input.myNumber);
      expect(await new TenantKeyring(newMaster).checkMasterKeys(t.db.manager, [code])).toEqual([]);
    } finally {
      await rewrap.release();
      await restarted.stop();
    }
  });

  it('refuses to start a server while a data key opens with neither configured master key', async () => {
    // This file's municipalities, at least, are under a key the server is not given.
    await registerResident((await t.tenant()).officer);
    const saved = { ...process.env };
    process.env.MASTER_KEY = randomBytes(32).toString('base64');
    process.env.TOKEN_SECRET = randomBytes(32).toString('base64');
    delete process.env.PREVIOUS_MASTER_KEY;
    // Were the check missing, the server would start: on ports of its own.
    process.env.INTERNET_PORT = '0';
    process.env.LGWAN_PORT = '0';
    try {
      await expect(main()).rejects.toThrow(/^The server does not start: data keys open with neither MASTER_KEY nor PREVIOUS_MASTER_KEY, so these municipalities' My Numbers could not be read: .* in all\); if MASTER_KEY was changed, set PREVIOUS_MASTER_KEY/);
      process.env.PREVIOUS_MASTER_KEY = randomBytes(32).toString('base64');
      await expect(main()).rejects.toThrow(/in all\); set the master keys they were wrapped with$/);
    } finally {
      process.env = saved;
    }
  });

  it('re-wraps from the command line only in the safe order', async () => {
    const saved = { ...process.env };
    process.env.NEW_MASTER_KEY = randomBytes(32).toString('base64');
    try {
      await expect(rotateMasterKey()).rejects.toThrow(
        'NEW_MASTER_KEY is no longer read: restart every server with MASTER_KEY=<new key> and PREVIOUS_MASTER_KEY=<old key>, then run rotate-master-key with the same two settings',
      );
    } finally {
      process.env = saved;
    }
  });

  it('keeps My Number unique while residents are still under the older key', async () => {
    const { code, officer } = await t.tenant();
    const first = await registerResident(officer);
    const second = await registerResident(officer);
    await t.app.services.keyring.rotate(t.db.manager, code);
    const duplicate = { field: ['input', 'myNumber'], code: 'DUPLICATE', message: 'another resident of this municipality has this My Number' };

    const registered = await officer.gql(REGISTER, { input: residentInput({ myNumber: first.input.myNumber }) });
    expect(registered.data.registerResident).toEqual({ resident: null, userErrors: [duplicate] });
    const UPDATE = 'mutation($id: ID!, $input: UpdateResidentInput!) { updateResident(id: $id, input: $input) { userErrors { field code message } } }';
    expect((await officer.gql(UPDATE, { id: second.id, input: { myNumber: first.input.myNumber } })).data.updateResident.userErrors).toEqual([duplicate]);
    // Its own number, entered again, is no conflict.
    expect((await officer.gql(UPDATE, { id: first.id, input: { myNumber: first.input.myNumber } })).data.updateResident.userErrors).toEqual([]);

    // An import compares numbers under one key: it waits for the rotation to finish.
    const before = await residentRows(t, code);
    const file = registryCsv([registryRow({ myNumber: String(second.input.myNumber) }), registryRow()]);
    const refused = await importFile(t, officer, file, 'mode=SKIP');
    expect(refused).toMatchObject({ status: 'FAILED', residentsInserted: 0 });
    expect(refused.failureReason).toMatch(/data key is being rotated.*nothing was written/);
    expect(await residentRows(t, code)).toEqual(before);

    await t.app.services.keyRotation.reencrypt(cli, code);
    const imported = await importFile(t, officer, file, 'mode=SKIP');
    expect(imported).toMatchObject({ status: 'SUCCEEDED', rowsAccepted: 1, rowsRejected: 1, residentsInserted: 1 });
    expect(imported.rejections.nodes).toEqual([
      { line: 2, column: '個人番号', field: 'myNumber', code: 'DUPLICATE', message: 'another resident of this municipality has this My Number' },
    ]);
  });
});
