import iconv from 'iconv-lite';
import { randomUUID } from 'node:crypto';
import { Transform } from 'node:stream';
import { Channel, Role } from '../../src/schema/enums';
import { baseUrl, importFile, registryCsv, registryRow, RegistryRow } from '../helpers/registry-csv';
import { todayInJapan } from '../../src/validation/dates';
import { insertResidents, onServerOff, registerResident, Session, TestApp } from '../helpers/test-app';
import { countAnotherCity, ISSUE } from '../helpers/vaccination';

let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
});
afterAll(() => t.stop());

const HEADER = '宛名番号,接種回,登録日時,接種日,接種券番号,自治体コード,接種地コード,接種会場,医師名,ワクチンメーカー,ロット番号,記録ID,状態,状態変更日時,訂正元記録ID';

async function download(channel: Channel, session: Session | null, query = '') {
  const response = await fetch(`${baseUrl(t, channel)}/exports/vaccination-records.csv?${query}`, {
    headers: session ? { authorization: `Bearer ${session.token}` } : {},
  });
  const bytes = Buffer.from(await response.arrayBuffer());
  return { status: response.status, type: response.headers.get('content-type'), bytes, text: bytes.toString('utf8') };
}

/** Records are written with SQL: dose registration is another feature's; this one only reads them. */
async function addRecord(
  code: string, addressee: string, dose: number, on: string, status = 'COMPLETED', lot = 'FA1234', app = t, venue: string | null = null, doctor: string | null = null,
): Promise<string> {
  const id = randomUUID();
  await app.db.query(
    `INSERT INTO vaccination_record (municipality_code, id, resident_id, ticket_id, dose_number, vaccinated_on, vaccine_code, manufacturer,
       product, lot_number, venue, doctor_name, site_municipality_code, source, status, status_reason, status_changed_at, created_at)
     SELECT r.municipality_code, $3, r.id, (SELECT id FROM ticket WHERE municipality_code = r.municipality_code AND resident_id = r.id LIMIT 1),
       $4, $5, 'comirnaty', 'ファイザー', 'コミナティ筋注', $7, $8, $9, '131016', 'CSV', $6,
       CASE WHEN $6 = 'COMPLETED' THEN NULL ELSE 'typo' END, CASE WHEN $6 = 'COMPLETED' THEN NULL ELSE now() END,
       TIMESTAMPTZ '2021-06-01 09:30:00+09'
     FROM resident r WHERE r.municipality_code = $1 AND r.addressee_number = $2`,
    [code, addressee, id, dose, on, status, lot, venue, doctor],
  );
  return id;
}

/** A dose recorded by the officer through the API (source OFFICER); answers the record's id. */
async function recordDose(officer: Session, residentId: string, doseNumber: number, vaccinatedOn: string): Promise<string> {
  const RECORD = 'mutation($input: RecordDoseInput!) { recordDose(input: $input) { record { id } userErrors { code } } }';
  const input = { residentId, doseNumber, vaccinatedOn, vaccineCode: 'MODERNA-SPIKEVAX', lotNumber: '000123A' };
  return (await officer.gql(RECORD, { input })).data.recordDose.record.id;
}

async function tenantWithRecords() {
  const tenant = await t.tenant();
  const rows = [registryRow(), registryRow({ ticket: '', series: '' })];
  await importFile(t, tenant.officer, registryCsv(rows));
  const ids = [
    await addRecord(tenant.code, rows[0].addressee, 1, '2021-06-01', 'COMPLETED', 'FA1234', t, '区民会館, ホールA', '山田 一郎'),
    await addRecord(tenant.code, rows[0].addressee, 2, '2021-06-22'),
    await addRecord(tenant.code, rows[1].addressee, 1, '2021-07-10'),
    await addRecord(tenant.code, rows[1].addressee, 2, '2021-07-31', 'ENTERED_IN_ERROR'),
  ];
  return { ...tenant, rows, ids };
}

async function waitFor(condition: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 200 && !(await condition()); i++) await new Promise((resolve) => setTimeout(resolve, 25));
}

const lines = (text: string) => text.replace(/^\ufeff/, '').trimEnd().split('\n');

const exportAudit = (code: string) =>
  t.db.query(`SELECT target_ids, outcome FROM audit_event WHERE municipality_code = $1 AND operation = 'vaccinationRecord.export' ORDER BY id`, [code]);

describe('vaccination record CSV export', () => {
  it('streams the VRS ledger layout with no My Number column and no My Number value', async () => {
    const { code, officer, rows, ids } = await tenantWithRecords();
    const neighbour = await tenantWithRecords();
    const csv = await download(Channel.LGWAN, officer);
    expect(csv.status).toBe(200);
    expect(csv.type).toBe('text/csv; charset=utf-8');
    expect(csv.text.startsWith('\ufeff')).toBe(true);
    expect(lines(csv.text)).toEqual([
      HEADER,
      `${rows[0].addressee},1,2021-06-01 09:30:00,2021-06-01,${rows[0].ticket},${code},131016,"区民会館, ホールA",山田 一郎,ファイザー,FA1234,${ids[0]},COMPLETED,,`,
      `${rows[0].addressee},2,2021-06-01 09:30:00,2021-06-22,${rows[0].ticket},${code},131016,,,ファイザー,FA1234,${ids[1]},COMPLETED,,`,
      `${rows[1].addressee},1,2021-06-01 09:30:00,2021-07-10,,${code},131016,,,ファイザー,FA1234,${ids[2]},COMPLETED,,`,
    ]);
    const everyone: RegistryRow[] = [...rows, ...neighbour.rows];
    for (const r of everyone) expect(csv.text).not.toContain(r.myNumber);
    expect(csv.text).not.toMatch(/個人番号|my.?number/i);
    for (const r of neighbour.rows) expect(csv.text).not.toContain(r.addressee);

    expect(await exportAudit(code)).toEqual([{ target_ids: [expect.any(String), 'from:-', 'to:-', 'dose:-', 'encoding:UTF8', 'rows:3'], outcome: 'SUCCESS' }]);
  });

  it('writes an addressee, lot number, venue or doctor that a spreadsheet would take for a formula as text, in either encoding', async () => {
    const { code, officer } = await t.tenant();
    const plain = registryRow();
    // Both are valid (the validators allow a hyphen anywhere, a leading one too), so such cells do reach the ledger.
    const risky = { ...registryRow(), addressee: `-${registryRow().addressee.slice(1)}` };
    await importFile(t, officer, registryCsv([plain, risky]));
    const plainId = await addRecord(code, plain.addressee, 1, '2021-06-01', 'COMPLETED', 'FA-1234');
    const riskyId = await addRecord(code, risky.addressee, 1, '2021-06-02', 'COMPLETED', '-AB12', t, '=HYPERLINK("x")', '+山田');
    const expected = [
      HEADER,
      `${plain.addressee},1,2021-06-01 09:30:00,2021-06-01,${plain.ticket},${code},131016,,,ファイザー,FA-1234,${plainId},COMPLETED,,`,
      `'${risky.addressee},1,2021-06-01 09:30:00,2021-06-02,${risky.ticket},${code},131016,"'=HYPERLINK(""x"")",'+山田,ファイザー,'-AB12,${riskyId},COMPLETED,,`,
    ];
    expect(lines((await download(Channel.LGWAN, officer)).text)).toEqual(expected);
    expect(lines(iconv.decode((await download(Channel.LGWAN, officer, 'encoding=sjis')).bytes, 'cp932'))).toEqual(expected);
  });

  it('writes in Shift_JIS the CP932 form of what Japanese input on a Mac gives, and 〓 for a character CP932 lacks, counted in the log', async () => {
    const { code, officer } = await t.tenant();
    const row = registryRow();
    await importFile(t, officer, registryCsv([row]));
    // 〜 and − as macOS and iPad input write them, and characters Shift_JIS has no code for: ü, 𠮷 (a surrogate pair), an emoji.
    const venue = '第1〜3会場（2F−B）‖¢£¬—¦〓';
    const doctor = 'Müller 𠮷野 😷';
    await addRecord(code, row.addressee, 1, '2021-06-01', 'COMPLETED', 'FA1234', t, venue, doctor);
    const cells = (text: string) => lines(text)[1].split(',').slice(7, 9);
    // UTF-8 holds every character.
    expect(cells((await download(Channel.LGWAN, officer)).text)).toEqual([venue, doctor]);
    const expected = ['第1～3会場（2F－B）∥￠￡￢―￤〓', 'M〓ller 〓野 〓'];
    expect(cells(iconv.decode((await download(Channel.LGWAN, officer, 'encoding=sjis')).bytes, 'cp932'))).toEqual(expected);
    // The same when the bytes arrive one at a time, each character split between chunks.
    t.app.services.exports.faultStage = () => new Transform({
      transform(chunk: Buffer, _enc, done) {
        for (const byte of chunk) this.push(Buffer.from([byte]));
        done();
      },
    });
    try {
      expect(cells(iconv.decode((await download(Channel.LGWAN, officer, 'encoding=sjis')).bytes, 'cp932'))).toEqual(expected);
    } finally {
      t.app.services.exports.faultStage = null;
    }
    // ü, 𠮷 and the emoji: one 〓 each; the 〓 the venue holds is no substitution.
    expect((await exportAudit(code)).map((e: any) => [e.target_ids.slice(4), e.outcome])).toEqual([
      [['encoding:UTF8', 'rows:1'], 'SUCCESS'],
      [['encoding:SJIS', 'rows:1', 'substituted:3'], 'SUCCESS'],
      [['encoding:SJIS', 'rows:1', 'substituted:3'], 'SUCCESS'],
    ]);
  });

  it('writes in Shift_JIS a character picked by a variation selector as the character, and one 〓 for an emoji in its colour form', async () => {
    const { code, officer } = await t.tenant();
    const row = registryRow();
    await importFile(t, officer, registryCsv([row]));
    // 葛󠄀 is 葛 with an ideographic variation selector (U+E0100), as a name is written to choose its form;
    // ☎️ is ☎ with U+FE0F, as phones type it. CP932 holds 葛 and neither selector.
    await addRecord(code, row.addressee, 1, '2021-06-01', 'COMPLETED', 'FA1234', t, '葛\u{e0100}飾会場 ☎\ufe0f', '葛\u{e0100}西 髙橋');
    const cells = (text: string) => lines(text)[1].split(',').slice(7, 9);
    expect(cells(iconv.decode((await download(Channel.LGWAN, officer, 'encoding=sjis')).bytes, 'cp932'))).toEqual(['葛飾会場 〓', '葛西 髙橋']);
    expect((await exportAudit(code)).map((e: any) => e.target_ids.slice(4))).toEqual([['encoding:SJIS', 'rows:1', 'substituted:1']]);
  });

  const CITY = 20_000;
  /**
   * A city of 20,000 residents, each with a ticket and a dose, that the planner's counts leave out
   * (they hold another city's): it reckons one record, one resident and one ticket, and read by its
   * municipality alone, a record's resident is every resident of the city.
   */
  async function cityNotCounted() {
    // In one statement, as no request writes them: its statistics triggers join the new records by
    // hash, so that a city the planner has not counted is not read once per record while other
    // files' requests wait on the summaries.
    const addRecords = (code: string) => t.db.transaction(async (tx) => {
      await tx.query('SET LOCAL enable_nestloop = off');
      await tx.query(
        `INSERT INTO vaccination_record (municipality_code, id, resident_id, ticket_id, dose_number, vaccinated_on, vaccine_code, manufacturer,
           product, lot_number, site_municipality_code, source)
         SELECT municipality_code, gen_random_uuid(), resident_id, id, 1, DATE '2021-06-01', 'comirnaty', 'ファイザー', 'コミナティ筋注', 'FA1234', '131016', 'CSV'
         FROM ticket WHERE municipality_code = $1`,
        [code],
      );
    });
    // Counted before its records are written: the statistics triggers join the new records to their residents.
    const counted = await countAnotherCity(t);
    await addRecords(counted.code);
    await t.db.query('ANALYZE vaccination_record');
    const city = await t.tenant();
    await insertResidents(t.db, city.code, CITY);
    await city.officer.gql(ISSUE, { input: { series: '1-2', allActiveResidents: true } });
    await addRecords(city.code);
    return city;
  }

  it('exports a whole city the planner has not counted yet without reading the city\'s residents once per record', async () => {
    // Minutes for 20,000 records joined row by row, where it takes a fraction of a second.
    const { officer } = await cityNotCounted();
    const csv = await download(Channel.LGWAN, officer);
    expect(csv.status).toBe(200);
    const rows = lines(csv.text).slice(1);
    expect(rows).toHaveLength(CITY);
    expect(new Set(rows.map((row) => row.split(',')[0])).size).toBe(CITY);
  }, 60_000);

  it('pulls by registration date a city the planner has not counted yet through each record\'s keys, not reading the city\'s residents once per record', async () => {
    // Every record registered today: the pull reads each record, its resident, ticket and predecessor
    // by their keys (a second or two), where joined by the city's code alone it read 20,000 residents
    // 20,000 times (minutes).
    const today = todayInJapan();
    const { code, officer } = await cityNotCounted();
    const csv = await download(Channel.LGWAN, officer, `registeredFrom=${today}`);
    expect(csv.status).toBe(200);
    const ids = lines(csv.text).slice(1).map((row) => row.split(',')[11]).sort();
    const records = await t.db.query('SELECT id FROM vaccination_record WHERE municipality_code = $1 ORDER BY id', [code]);
    expect(ids).toHaveLength(CITY);
    expect(ids).toEqual(records.map((r: { id: string }) => r.id));
  }, 60_000);

  it('cuts the download off, rather than ending it, and logs a failure when the export fails part-way', async () => {
    const { code, officer } = await tenantWithRecords();
    // As a connection lost mid-COPY would: the status line and the CSV header have gone, the rows fail.
    t.app.services.exports.faultStage = () => new Transform({ transform: (_rows, _enc, done) => done(new Error('injected export fault')) });
    try {
      const response = await fetch(`${baseUrl(t, Channel.LGWAN)}/exports/vaccination-records.csv`, { headers: { authorization: `Bearer ${officer.token}` } });
      expect(response.status).toBe(200);
      // A body ended cleanly here would be a header-only file that looks like "no records".
      await expect(response.arrayBuffer()).rejects.toThrow();
    } finally {
      t.app.services.exports.faultStage = null;
    }
    expect(await exportAudit(code)).toEqual([{ target_ids: [expect.any(String), 'from:-', 'to:-', 'dose:-', 'encoding:UTF8', 'rows:0'], outcome: 'FAILURE' }]);
  });

  it('answers a fault before the first byte with 500 INTERNAL_SERVER_ERROR, as GraphQL does', async () => {
    const { officer } = await tenantWithRecords();
    const stream = jest.spyOn(t.app.services.exports, 'stream').mockRejectedValue(Object.assign(new Error('could not extend file "base/16384/16397": No space left on device'), { code: '53100' }));
    try {
      const answer = await download(Channel.LGWAN, officer);
      expect([answer.status, JSON.parse(answer.text)]).toEqual([500, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] }]);
    } finally {
      stream.mockRestore();
    }
  });

  it('filters by vaccination date and dose number, and writes Shift_JIS on request', async () => {
    const { code, officer, rows } = await tenantWithRecords();
    const dose2 = await download(Channel.LGWAN, officer, 'dose=2');
    expect(lines(dose2.text).slice(1).map((l) => l.split(',').slice(0, 2))).toEqual([[rows[0].addressee, '2']]);
    const july = await download(Channel.LGWAN, officer, 'from=2021-06-10&to=2021-07-31');
    expect(lines(july.text).slice(1).map((l) => l.split(',')[3])).toEqual(['2021-06-22', '2021-07-10']);
    const sjis = await download(Channel.INTERNET, await t.session(Role.MUNICIPALITY, Channel.INTERNET, { municipalityCode: officer.municipalityCode! }), 'encoding=sjis&dose=1');
    expect(sjis.type).toBe('text/csv; charset=Shift_JIS');
    const decoded = iconv.decode(sjis.bytes, 'cp932');
    expect(lines(decoded)[0]).toBe(HEADER);
    expect(lines(decoded)).toHaveLength(3);
    expect(sjis.bytes.includes(Buffer.from('区民会館'))).toBe(false);
    expect(sjis.bytes.includes(iconv.encode('区民会館', 'cp932'))).toBe(true);
    const bad = await download(Channel.LGWAN, officer, 'from=2021-02-30&dose=0&encoding=latin1');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).errors.map((e: any) => e.extensions.field[0])).toEqual(['from', 'dose', 'encoding']);
    // The log says which records left: each download's filter and size.
    expect((await exportAudit(code)).map((e: any) => e.target_ids.slice(1))).toEqual([
      ['from:-', 'to:-', 'dose:2', 'encoding:UTF8', 'rows:1'],
      ['from:2021-06-10', 'to:2021-07-31', 'dose:-', 'encoding:UTF8', 'rows:2'],
      ['from:-', 'to:-', 'dose:1', 'encoding:SJIS', 'rows:2', 'substituted:0'],
    ]);
  });

  it('reads a date typed in Japanese input mode (full-width digits and hyphens, or kana mode\'s ー) as GraphQL does', async () => {
    const { code, officer } = await tenantWithRecords();
    const days = async (query: string) => {
      const answer = await download(Channel.LGWAN, officer, query);
      expect(answer.status).toBe(200);
      return lines(answer.text).slice(1).map((l) => l.split(',')[3]);
    };
    const query = (from: string, to: string) => `from=${encodeURIComponent(from)}&to=${encodeURIComponent(to)}&registeredFrom=${encodeURIComponent('２０２１ー０６ー０１')}`;
    expect(await days(query('２０２１－０６－１０', '２０２１ー０７ー３０'))).toEqual(['2021-06-22', '2021-07-10']);
    // The log holds the dates as read.
    const [audit] = (await exportAudit(code)).slice(-1);
    expect(audit.target_ids.slice(1, 3)).toEqual(['from:2021-06-10', 'to:2021-07-30']);
    expect(audit.target_ids).toContain('registeredFrom:2021-06-01');
    const bad = await download(Channel.LGWAN, officer, query('２０２１－０２－３０', '２０２１－０７－３１'));
    expect([bad.status, JSON.parse(bad.text).errors.map((e: any) => [e.extensions.field, e.message])])
      .toEqual([400, [[['from'], 'from: must be a real date written YYYY-MM-DD']]]);
  });

  it('filters by registration date in Japan time, for incremental pulls that also get doses registered late', async () => {
    const { code, officer } = await tenantWithRecords();
    // Registered on 2 June 08:00 in Japan (1 June in UTC), and one registered late, on 1 August
    // 00:00 in Japan (31 July in UTC), for a dose given in June.
    await t.db.query(`UPDATE vaccination_record SET created_at = TIMESTAMPTZ '2021-06-02 08:00:00+09' WHERE municipality_code = $1`, [code]);
    await t.db.query(`UPDATE vaccination_record SET created_at = TIMESTAMPTZ '2021-08-01 00:00:00+09' WHERE municipality_code = $1 AND vaccinated_on = '2021-06-22'`, [code]);
    // The residents were last changed before any of it.
    await t.db.query(`UPDATE resident SET updated_at = TIMESTAMPTZ '2021-05-01 09:00:00+09' WHERE municipality_code = $1`, [code]);
    // The dose of 31 July, registered on 2 June with the others, was deleted on 1 August.
    await t.db.query(`UPDATE vaccination_record SET status_changed_at = TIMESTAMPTZ '2021-08-01 09:00:00+09' WHERE municipality_code = $1 AND status <> 'COMPLETED'`, [code]);
    const days = async (query: string) => lines((await download(Channel.LGWAN, officer, query)).text).slice(1).map((l) => l.split(',')).map((c) => `${c[3]} ${c.at(-3)}`);
    expect(await days('registeredTo=2021-06-01')).toEqual([]);
    // Each record registered or changed in the range, once, as it stands now.
    expect(await days('registeredFrom=2021-06-02&registeredTo=2021-06-02')).toEqual(['2021-06-01 COMPLETED', '2021-07-10 COMPLETED', '2021-07-31 ENTERED_IN_ERROR']);
    expect(await days('registeredFrom=2021-08-01')).toEqual(['2021-06-22 COMPLETED', '2021-07-31 ENTERED_IN_ERROR']);
    expect(await days('registeredFrom=2021-08-01&to=2021-06-30')).toEqual(['2021-06-22 COMPLETED']);
    expect(await days('registeredFrom=2021-06-03&registeredTo=2021-07-31')).toEqual([]);
    const [audit] = (await exportAudit(code)).slice(-1);
    expect(audit.target_ids.slice(1)).toEqual(['from:-', 'to:-', 'dose:-', 'encoding:UTF8', 'registeredFrom:2021-06-03', 'registeredTo:2021-07-31', 'rows:0']);
    const bad = await download(Channel.LGWAN, officer, 'registeredFrom=2021-08-02&registeredTo=2021-08-01');
    expect([bad.status, JSON.parse(bad.text).errors[0].extensions.field]).toEqual([400, ['registeredTo']]);
  });

  it('tells a ledger kept by registration-date pulls of the doses it already has that were corrected or deleted', async () => {
    const { code, officer } = await t.tenant();
    const { id: residentId, input: resident } = await registerResident(officer);
    const one = await recordDose(officer, residentId, 1, '2023-10-01');
    const two = await recordDose(officer, residentId, 2, '2023-11-01');
    await t.db.query(`UPDATE vaccination_record SET created_at = TIMESTAMPTZ '2023-11-02 10:00:00+09' WHERE municipality_code = $1`, [code]);
    // Dose number, record id, status, whether a change time is given, the record replaced.
    const pull = async (query = '') => {
      const csv = await download(Channel.LGWAN, officer, query);
      expect(csv.text).not.toContain(resident.myNumber);
      return lines(csv.text).slice(1).map((l) => l.split(',')).map((c) => [c[1], c[11], c[12], c[13] !== '', c[14]]);
    };
    const ledger = new Set<string>();
    const apply = (rows: unknown[][]) => rows.forEach(([, id, status]) => (status === 'COMPLETED' ? ledger.add(id as string) : ledger.delete(id as string)));

    const first = await pull('registeredFrom=2023-11-02&registeredTo=2023-11-02');
    expect(first).toEqual([['1', one, 'COMPLETED', false, ''], ['2', two, 'COMPLETED', false, '']]);
    apply(first);

    // Today dose 2 turns out to be another person's, and dose 1's lot was misread.
    const DELETE = 'mutation($id: ID!) { deleteVaccinationRecord(id: $id, reason: "wrong person") { userErrors { code } } }';
    expect((await officer.gql(DELETE, { id: two })).data.deleteVaccinationRecord.userErrors).toEqual([]);
    const CORRECT = 'mutation($id: ID!) { correctVaccinationRecord(id: $id, input: { lotNumber: "ZZ9", reason: "lot misread" }) { record { id } } }';
    const fixed = (await officer.gql(CORRECT, { id: one })).data.correctVaccinationRecord.record.id;

    const next = await pull(`registeredFrom=${todayInJapan()}`);
    expect(next).toEqual([['1', one, 'SUPERSEDED', true, ''], ['1', fixed, 'COMPLETED', false, one], ['2', two, 'ENTERED_IN_ERROR', true, '']]);
    apply(next);
    // The whole export lists the records that stand, and the ledger now holds exactly those.
    const whole = await pull();
    expect(whole).toEqual([['1', fixed, 'COMPLETED', false, one]]);
    expect([...ledger]).toEqual([fixed]);
    // A pull of the earlier day made again lists its records as they stand now.
    expect((await pull('registeredFrom=2023-11-02&registeredTo=2023-11-02')).map((r) => r[2])).toEqual(['SUPERSEDED', 'ENTERED_IN_ERROR']);
  });

  it('tells a ledger kept by registration-date pulls of a resident whose addressee number changed, with the records it already has', async () => {
    const { code, officer } = await t.tenant();
    const { id: residentId } = await registerResident(officer);
    const { id: otherId } = await registerResident(officer);
    const one = await recordDose(officer, residentId, 1, '2023-10-01');
    const two = await recordDose(officer, residentId, 2, '2023-11-01');
    await recordDose(officer, otherId, 1, '2023-10-01');
    // Registered, and the residents last changed, long before today's pull.
    await t.db.query(`UPDATE vaccination_record SET created_at = TIMESTAMPTZ '2023-11-02 10:00:00+09' WHERE municipality_code = $1`, [code]);
    await t.db.query(`UPDATE resident SET updated_at = TIMESTAMPTZ '2023-11-02 10:00:00+09' WHERE municipality_code = $1`, [code]);
    const pull = async () => lines((await download(Channel.LGWAN, officer, `registeredFrom=${todayInJapan()}`)).text).slice(1).map((l) => l.split(',')).map((c) => [c[0], c[11], c[12]]);
    expect(await pull()).toEqual([]);
    const UPDATE = 'mutation($id: ID!, $input: UpdateResidentInput!) { updateResident(id: $id, input: $input) { resident { addresseeNumber } userErrors { code } } }';
    const renumbered = (await officer.gql(UPDATE, { id: residentId, input: { addresseeNumber: '9876543210' } })).data.updateResident;
    expect(renumbered).toEqual({ resident: { addresseeNumber: '9876543210' }, userErrors: [] });
    // Each of the resident's records once, with the number as it stands now; the other resident's not at all.
    expect(await pull()).toEqual([['9876543210', one, 'COMPLETED'], ['9876543210', two, 'COMPLETED']]);
  });

  it('tells a ledger of a resident changed on a server whose clock runs behind, on the database\'s clock', async () => {
    const { code, officer } = await t.tenant();
    const { id: residentId } = await registerResident(officer);
    const record = await recordDose(officer, residentId, 1, '2023-10-01');
    // The database's clock cannot be set, so midnight comes to it: the resident was registered at 23:59
    // yesterday and the dose at 23:59:30, both pulled then, and the database now reads 00:00:30, when a server whose clock runs
    // 2 minutes behind, reading 23:58:30 yesterday, corrects the resident's addressee number.
    const today = todayInJapan();
    const midnight = Date.parse(`${today}T00:00:00+09:00`);
    await t.db.query(`UPDATE resident SET updated_at = $2 WHERE municipality_code = $1`, [code, new Date(midnight - 60_000)]);
    await t.db.query(`UPDATE vaccination_record SET created_at = $2 WHERE municipality_code = $1`, [code, new Date(midnight - 30_000)]);
    const pull = async () => lines((await download(Channel.LGWAN, officer, `registeredFrom=${today}`)).text).slice(1).map((l) => l.split(',')).map((c) => [c[0], c[11]]);
    expect(await pull()).toEqual([]);
    const UPDATE = 'mutation($id: ID!, $input: UpdateResidentInput!) { updateResident(id: $id, input: $input) { resident { addresseeNumber updatedAt } userErrors { code } } }';
    const renumbered = (await onServerOff(midnight - 90_000 - Date.now(), () => officer.gql(UPDATE, { id: residentId, input: { addresseeNumber: '9876543210' } })))
      .data.updateResident;
    expect(renumbered.userErrors).toEqual([]);
    // Changed today by the database's clock: today's pull has the record, with the number as it stands now, and the answer says so too.
    expect(await pull()).toEqual([['9876543210', record]]);
    expect(Date.parse(renumbered.resident.updatedAt)).toBeGreaterThan(midnight);
  });

  it('lists a record found by more than one of its times once, and not one registered after the resident change in range', async () => {
    const { code, officer, rows } = await tenantWithRecords();
    const at = (column: string, time: string, where: string) =>
      t.db.query(`UPDATE ${column.startsWith('v.') ? 'vaccination_record' : 'resident'} SET ${column.slice(2)} = TIMESTAMPTZ '${time}'
        WHERE municipality_code = $1 AND ${where}`, [code]);
    const ofResident = (row: RegistryRow) => `resident_id = (SELECT id FROM resident WHERE municipality_code = '${code}' AND addressee_number = '${row.addressee}')`;
    // Every record registered on 1 March. The second resident changed that afternoon, after the
    // dose of 31 July was entered in error: that record is found by all three of its times.
    await at('v.created_at', '2022-03-01 10:00:00+09', 'true');
    await at('v.status_changed_at', '2022-03-01 12:00:00+09', `status <> 'COMPLETED'`);
    await at('r.updated_at', '2022-03-01 15:00:00+09', `addressee_number = '${rows[1].addressee}'`);
    // The first resident changed on 1 April, and their dose of 22 June was registered the day after.
    await at('r.updated_at', '2022-04-01 09:00:00+09', `addressee_number = '${rows[0].addressee}'`);
    await at('v.created_at', '2022-04-02 10:00:00+09', `${ofResident(rows[0])} AND dose_number = 2`);
    const days = async (query: string) => lines((await download(Channel.LGWAN, officer, query)).text).slice(1).map((l) => l.split(',')).map((c) => `${c[3]} ${c.at(-3)}`);
    expect(await days('registeredFrom=2022-03-01&registeredTo=2022-03-01')).toEqual(['2021-06-01 COMPLETED', '2021-07-10 COMPLETED', '2021-07-31 ENTERED_IN_ERROR']);
    expect(await days('registeredFrom=2022-03-01&registeredTo=2022-03-01&dose=2')).toEqual(['2021-07-31 ENTERED_IN_ERROR']);
    expect(await days('registeredFrom=2022-04-01&registeredTo=2022-04-01')).toEqual(['2021-06-01 COMPLETED']);
    expect(await days('registeredFrom=2022-04-01')).toEqual(['2021-06-01 COMPLETED', '2021-06-22 COMPLETED']);
  });

  it('keeps a ledger kept by registration-date pulls whole: a resident with records is not deleted, one entered in error included', async () => {
    const { code, officer } = await t.tenant();
    const { id: residentId } = await registerResident(officer);
    const one = await recordDose(officer, residentId, 1, '2023-10-01');
    const pull = async () => lines((await download(Channel.LGWAN, officer, `registeredFrom=${todayInJapan()}`)).text).slice(1).map((l) => l.split(',')).map((c) => [c[11], c[12]]);
    const DELETE = 'mutation($id: ID!) { deleteResident(id: $id) { deletedResidentId userErrors { field code message } } }';
    const refused = {
      deletedResidentId: null,
      userErrors: [{
        field: ['id'], code: 'INVALID_STATE',
        message: 'the resident has vaccination records, which are kept: mark the resident moved out or deceased, or correct their details, instead',
      }],
    };
    expect(await pull()).toEqual([[one, 'COMPLETED']]);
    expect((await officer.gql(DELETE, { id: residentId })).data.deleteResident).toEqual(refused);
    expect(await pull()).toEqual([[one, 'COMPLETED']]);
    // Entered in error, the record tells the ledger to drop it in the next pull; the resident still stays.
    const REMOVE = 'mutation($id: ID!) { deleteVaccinationRecord(id: $id, reason: "wrong person") { userErrors { code } } }';
    expect((await officer.gql(REMOVE, { id: one })).data.deleteVaccinationRecord.userErrors).toEqual([]);
    expect((await officer.gql(DELETE, { id: residentId })).data.deleteResident).toEqual(refused);
    expect(await pull()).toEqual([[one, 'ENTERED_IN_ERROR']]);
    // A resident without records is deleted, and no pull ever listed anything of theirs.
    const { id: empty } = await registerResident(officer);
    expect((await officer.gql(DELETE, { id: empty })).data.deleteResident).toEqual({ deletedResidentId: empty, userErrors: [] });
    expect(await pull()).toEqual([[one, 'ENTERED_IN_ERROR']]);
    expect(await t.db.query('SELECT 1 FROM vaccination_record WHERE municipality_code = $1', [code])).toHaveLength(1);
  });

  it('refuses a filter it does not know, one given twice or left empty, rather than widen the download', async () => {
    const { officer } = await tenantWithRecords();
    const refusals = async (query: string) => {
      const answer = await download(Channel.LGWAN, officer, query);
      expect(answer.text).not.toContain('宛名番号');
      return [answer.status, JSON.parse(answer.text).errors.map((e: any) => [e.extensions.field[0], e.extensions.reason])];
    };
    expect(await refusals('dateFrom=2021-09-01&doseNumber=1')).toEqual([400, [['dateFrom', 'INVALID_FORMAT'], ['doseNumber', 'INVALID_FORMAT']]]);
    expect(await refusals('dose=1&dose=2')).toEqual([400, [['dose', 'INVALID_FORMAT']]]);
    expect(await refusals('from=&to=2021-07-01')).toEqual([400, [['from', 'REQUIRED']]]);
    // Once a field: one left empty or given twice is not also said to be no date, dose or encoding.
    expect(await refusals('encoding=')).toEqual([400, [['encoding', 'REQUIRED']]]);
    expect(await refusals('encoding=latin1&encoding=utf8&dose=0&dose=1&to=2021-13-01&to=2021-07-01')).toEqual([400, [['encoding', 'INVALID_FORMAT'], ['dose', 'INVALID_FORMAT'], ['to', 'INVALID_FORMAT']]]);
    expect(await refusals('from=2021-08-01&to=2021-07-01')).toEqual([400, [['to', 'INVALID_DATE']]]);
  });

  it('runs two downloads of a municipality at a time; a third is asked to wait, and another municipality is not held up', async () => {
    const { code, officer } = await tenantWithRecords();
    const other = await tenantWithRecords();
    let open: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (open = resolve));
    // Held rows, as a client that reads slowly would hold them.
    t.app.services.exports.faultStage = () => new Transform({ transform: (rows, _enc, done) => void gate.then(() => done(null, rows)) });
    const held = [download(Channel.LGWAN, officer), download(Channel.LGWAN, officer)];
    try {
      await waitFor(async () => (await t.db.query(
        `SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'COPY (SELECT%' AND query LIKE $1`, [`%'${code}'%`],
      ))[0].n === 2);
      const third = await download(Channel.LGWAN, officer);
      expect([third.status, JSON.parse(third.text).errors[0].extensions.code]).toEqual([429, 'RATE_LIMITED']);
      t.app.services.exports.faultStage = null;
      expect((await download(Channel.LGWAN, other.officer)).status).toBe(200);
    } finally {
      t.app.services.exports.faultStage = null;
      open();
    }
    expect((await Promise.all(held)).map((d) => [d.status, lines(d.text).length])).toEqual([[200, 4], [200, 4]]);
    expect((await download(Channel.LGWAN, officer)).status).toBe(200);
  });

  it('ends the statement of a download whose client leaves before its first row, rather than leave it running outside the slots', async () => {
    const own = await TestApp.startOnOwnDatabase(`record_export_gone_${process.pid}`);
    try {
      const { code, officer } = await own.tenant();
      const row = registryRow();
      await importFile(own, officer, registryCsv([row]));
      await addRecord(code, row.addressee, 1, '2021-06-01', 'COMPLETED', 'FA1234', own);
      // A city's rows are sorted for seconds before the first is sent: here the statement waits on a lock for as long.
      const holder = own.db.createQueryRunner();
      await holder.connect();
      await holder.startTransaction();
      await holder.query('LOCK TABLE ticket IN ACCESS EXCLUSIVE MODE');
      const copying = async (): Promise<number[]> => (await own.db.query(
        `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query LIKE 'COPY (SELECT%' AND wait_event_type = 'Lock'`,
      )).map((r: { pid: number }) => r.pid);
      let left: number[];
      try {
        const leaving = new AbortController();
        await fetch(`${baseUrl(own, Channel.LGWAN)}/exports/vaccination-records.csv`, { headers: { authorization: `Bearer ${officer.token}` }, signal: leaving.signal });
        let sessions: number[] = [];
        for (let i = 0; i < 200 && (sessions = await copying()).length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 25));
        expect(sessions).toHaveLength(1);
        leaving.abort();
        const remaining = async () => (await own.db.query('SELECT pid FROM pg_stat_activity WHERE pid = ANY ($1)', [sessions])).map((r: { pid: number }) => r.pid);
        const deadline = Date.now() + 15_000;
        while ((left = await remaining()).length > 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 200));
      } finally {
        await holder.rollbackTransaction();
        await holder.release();
      }
      expect(left).toEqual([]);
      const [audit] = await own.db.query(`SELECT outcome FROM audit_event WHERE municipality_code = $1 AND operation = 'vaccinationRecord.export'`, [code]);
      expect(audit).toEqual({ outcome: 'FAILURE' });
    } finally {
      await own.stop();
    }
  }, 60_000);

  it('cuts off a download silent for IDLE_SECONDS, giving back its database connection and its slot', async () => {
    const quiet = await TestApp.start({ idleSeconds: 1 });
    try {
      const { code, officer } = await quiet.tenant();
      const row = registryRow();
      await importFile(quiet, officer, registryCsv([row]));
      await addRecord(code, row.addressee, 1, '2021-06-01', 'COMPLETED', 'FA1234', quiet);
      // Nothing reaches the socket, as when a client has stopped reading and the buffers are full.
      quiet.app.services.exports.faultStage = () => new Transform({ transform: () => undefined });
      const started = Date.now();
      const cut = await fetch(`${baseUrl(quiet, Channel.INTERNET)}/exports/vaccination-records.csv`, {
        headers: { authorization: `Bearer ${(await quiet.session(Role.MUNICIPALITY, Channel.INTERNET, { municipalityCode: code })).token}` },
      }).then((r) => r.arrayBuffer()).then(() => 'ended', () => 'cut off');
      expect([cut, Date.now() - started >= 900]).toEqual(['cut off', true]);
      quiet.app.services.exports.faultStage = null;
      await waitFor(async () => (await quiet.db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'COPY (SELECT%' AND query LIKE $1`, [`%'${code}'%`]))[0].n === 0
        && (await quiet.db.query(`SELECT count(*)::int AS n FROM audit_event WHERE municipality_code = $1 AND operation = 'vaccinationRecord.export'`, [code]))[0].n === 1);
      const [audit] = await quiet.db.query(`SELECT outcome FROM audit_event WHERE municipality_code = $1 AND operation = 'vaccinationRecord.export'`, [code]);
      expect(audit).toEqual({ outcome: 'FAILURE' });
      const again = await Promise.all([1, 2].map(() => fetch(`${baseUrl(quiet, Channel.LGWAN)}/exports/vaccination-records.csv`, { headers: { authorization: `Bearer ${officer.token}` } })));
      expect(again.map((r) => r.status)).toEqual([200, 200]);
      await Promise.all(again.map((r) => r.arrayBuffer()));
    } finally {
      await quiet.stop();
    }
  });

  it('logs a download that a stopping server cuts off, with the rows it sent, before the database goes', async () => {
    const stopping = await TestApp.start();
    let destroyed = false;
    try {
      const { code, officer } = await stopping.tenant();
      const rows = [registryRow(), registryRow()];
      await importFile(stopping, officer, registryCsv(rows));
      for (const row of rows) await addRecord(code, row.addressee, 1, '2021-06-01', 'COMPLETED', 'FA1234', stopping);
      // The rows reach the client, then nothing more: a client reading slower than the stop's grace.
      stopping.app.services.exports.faultStage = () => new Transform({ transform(rows, _enc) { this.push(rows); } });
      const cut = fetch(`${baseUrl(stopping, Channel.LGWAN)}/exports/vaccination-records.csv`, { headers: { authorization: `Bearer ${officer.token}` } })
        .then((r) => r.arrayBuffer()).then(() => 'ended', () => 'cut off');
      await waitFor(async () => (await stopping.db.query(`SELECT count(*)::int AS n FROM pg_stat_activity WHERE query LIKE 'COPY (SELECT%' AND query LIKE $1`, [`%'${code}'%`]))[0].n === 1);
      const logged = stopping.log.text.length;
      // As main() does on SIGTERM: the database goes as soon as the server has stopped.
      await stopping.app.stop();
      await stopping.app.services.db.destroy();
      destroyed = true;
      expect(stopping.log.entries.slice(logged).filter((e) => e.level === 'error')).toEqual([]);
      expect(await cut).toBe('cut off');
      const audit = await stopping.db.query(`SELECT target_ids, outcome FROM audit_event WHERE municipality_code = $1 AND operation = 'vaccinationRecord.export'`, [code]);
      expect(audit).toEqual([{ target_ids: expect.arrayContaining(['rows:2']), outcome: 'FAILURE' }]);
    } finally {
      if (!destroyed) await stopping.app.services.db.destroy();
      await stopping.db.destroy();
    }
  }, 40_000);

  it('is for municipality officers only, on either channel', async () => {
    const { code } = await tenantWithRecords();
    const refused = [
      [await t.session(Role.VACCINATION_SITE, Channel.INTERNET, { municipalityCode: code }), 403],
      [await t.session(Role.PREFECTURE, Channel.LGWAN, { prefectureCode: '13' }), 403],
      [await t.session(Role.NATIONAL, Channel.LGWAN), 403],
      [await t.session(Role.INTEGRATOR, Channel.INTERNET), 403],
      [await t.session(Role.OPERATOR, Channel.LGWAN), 403],
      [null, 401],
    ] as const;
    for (const [session, status] of refused) {
      const answer = await download(session?.channel ?? Channel.INTERNET, session);
      expect(answer.status).toBe(status);
      expect(answer.text).not.toContain('宛名番号');
    }
  });
});
