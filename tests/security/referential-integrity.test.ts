import { EntityManager } from 'typeorm';
import { TestApp } from '../helpers/test-app';

let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
});
afterAll(() => t.stop());

/** The code of a municipality that does not exist (the check digit is right, the row absent). */
async function unknownCode(): Promise<string> {
  const code = await t.createMunicipality();
  await t.db.query('DELETE FROM municipality WHERE code = $1', [code]);
  return code;
}

/** As the owner, inside one transaction that may write into `code`'s tenant. */
function asOwner<T>(code: string, work: (tx: EntityManager) => Promise<T>): Promise<T> {
  return t.db.transaction(async (tx) => {
    await tx.query(`SELECT set_config('vrs.tenants', $1, true)`, [code]);
    return work(tx);
  });
}

function insertResident(tx: EntityManager, code: string): Promise<unknown> {
  return tx.query(
    `INSERT INTO resident (municipality_code, id, addressee_number, my_number_cipher, my_number_hmac, key_version,
       family_name, given_name, family_name_kana, given_name_kana, birth_date, sex)
     VALUES ($1, gen_random_uuid(), 'A-1', '\\x00', decode(repeat('ab', 32), 'hex'), 1, '山田', '花子', 'ヤマダ', 'ハナコ', '1980-01-01', 'FEMALE')`,
    [code],
  );
}

/** A municipality that nothing but residents refers to (no accounts, no keys), holding one resident. */
async function municipalityWithResident(): Promise<string> {
  const code = await t.createMunicipality();
  await asOwner(code, (tx) => insertResident(tx, code));
  return code;
}

const violation = { code: '23503', constraint: 'resident_municipality_fk' };

describe('a resident belongs to a municipality that exists', () => {
  it('refuses a resident of an unknown municipality, even written by the owner', async () => {
    const code = await unknownCode();
    await expect(asOwner(code, (tx) => insertResident(tx, code))).rejects.toMatchObject(violation);
    expect(await t.db.query('SELECT 1 FROM resident WHERE municipality_code = $1', [code])).toHaveLength(0);
  });

  it('refuses moving a resident under an unknown municipality code', async () => {
    const code = await municipalityWithResident();
    const other = await unknownCode();
    await expect(asOwner(`${code},${other}`, (tx) => tx.query('UPDATE resident SET municipality_code = $2 WHERE municipality_code = $1', [code, other])))
      .rejects.toMatchObject(violation);
  });

  it('refuses deleting or renumbering a municipality that still has residents', async () => {
    const code = await municipalityWithResident();
    await expect(t.db.query('DELETE FROM municipality WHERE code = $1', [code])).rejects.toMatchObject(violation);
    const other = await unknownCode();
    await expect(t.db.query('UPDATE municipality SET code = $2 WHERE code = $1', [code, other])).rejects.toMatchObject(violation);
    expect(await t.db.query('SELECT 1 FROM municipality WHERE code = $1', [code])).toHaveLength(1);
  });

  it('lets a municipality without residents be deleted, and one with residents be renamed', async () => {
    const empty = await t.createMunicipality();
    await t.db.query('DELETE FROM municipality WHERE code = $1', [empty]);
    expect(await t.db.query('SELECT 1 FROM municipality WHERE code = $1', [empty])).toHaveLength(0);
    const code = await municipalityWithResident();
    await t.db.query(`UPDATE municipality SET name = 'テスト新市' WHERE code = $1`, [code]);
    expect(await t.db.query('SELECT name FROM municipality WHERE code = $1', [code])).toEqual([{ name: 'テスト新市' }]);
  });
});
