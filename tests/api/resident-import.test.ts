import iconv from 'iconv-lite';
import { connect } from 'node:net';
import { Client } from 'pg';
import { Channel, Role } from '../../src/schema/enums';
import {
  baseUrl, finishedJob, IMPORT_JOB, importFile, JAPANESE_HEADER, registryCsv, registryRow, residentRows, ticketRows, upload,
} from '../helpers/registry-csv';
import { RESUME, SUSPEND } from '../helpers/operations';
import { insertDose } from '../helpers/statistics';
import { blockedBy, onServerOff, REGISTER, residentInput, Session, TestApp } from '../helpers/test-app';

let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
});
afterAll(() => t.stop());

const MY_NUMBER = 'query($id: ID!) { resident(id: $id) { addresseeNumber familyName givenNameKana birthDate sex myNumber } }';

/** The line of every entry of a job's rejection list, page by page, and whether the list calls itself complete. */
async function rejectedLines(officer: Session, id: string): Promise<{ lines: number[]; complete: boolean }> {
  const lines: number[] = [];
  let page: any = { hasNextPage: true, endCursor: null };
  while (page.hasNextPage) {
    const answer = await officer.gql(`query($id: ID!, $after: String) { importJob(id: $id) {
      rejections(first: 400, after: $after) { nodes { line } hasNextPage endCursor complete } } }`, { id, after: page.endCursor });
    page = answer.data.importJob.rejections;
    lines.push(...page.nodes.map((n: { line: number }) => n.line));
  }
  return { lines, complete: page.complete };
}

/** Starts an upload of `csv` that sends its first half, and waits until the job has read some of it. */
async function uploadHalf(officer: Session, csv: string, app = t) {
  const half = csv.indexOf('\n', csv.length / 2) + 1;
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => (release = resolve));
  const body = new ReadableStream({
    async start(controller) {
      controller.enqueue(new TextEncoder().encode(csv.slice(0, half)));
      await gate;
      controller.enqueue(new TextEncoder().encode(csv.slice(half)));
      controller.close();
    },
  });
  const response = fetch(`${baseUrl(app, Channel.LGWAN)}/imports/residents?mode=SKIP`, {
    method: 'POST', body, duplex: 'half', headers: { authorization: `Bearer ${officer.token}` },
  } as RequestInit);
  response.catch(() => undefined);
  let running: any;
  for (let i = 0; i < 200 && !(running?.rowsRead > 0); i++) {
    await new Promise((r) => setTimeout(r, 50));
    running = (await officer.gql('{ importJobs(first: 1) { id status phase rowsRead municipalityCode } }')).data.importJobs[0];
  }
  return { running, release, response };
}

describe('resident registry import', () => {
  it('imports a UTF-8 file with a BOM: residents with encrypted My Number, their tickets, a job report and an audit line', async () => {
    const { code, officer } = await t.tenant();
    const rows = [registryRow({ municipality: code }), registryRow({ sex: '女', givenKana: 'ハナコ', ticket: '' , series: '' })];
    const job = await importFile(t, officer, `\ufeff${registryCsv(rows)}`);
    expect(job).toMatchObject({
      status: 'SUCCEEDED', encoding: 'UTF8', mode: 'ABORT', rowsRead: 2, rowsAccepted: 2, rowsRejected: 0,
      residentsInserted: 2, residentsUpdated: 0, ticketsInserted: 1, ticketsUpdated: 0, failureReason: null, progress: 1,
      rejections: { nodes: [], hasNextPage: false, complete: true },
    });
    const stored = await residentRows(t, code);
    expect(stored.map((r) => r.addressee_number).sort()).toEqual(rows.map((r) => r.addressee).sort());
    // Stored exactly as ResidentService stores it: the API decrypts it with the municipality's key.
    const first = stored.find((r) => r.addressee_number === rows[0].addressee);
    const read = await officer.gql(MY_NUMBER, { id: first.id });
    expect(read.data.resident).toEqual({ addresseeNumber: rows[0].addressee, familyName: '山田', givenNameKana: 'タロウ', birthDate: '1970-01-02', sex: 'MALE', myNumber: rows[0].myNumber });
    // Neither stored column holds the number's bytes; the look-up hash is the API's.
    const plain = Buffer.from(rows[0].myNumber).toString('hex');
    for (const r of stored) expect([r.cipher.includes(plain), r.hmac.includes(plain)]).toEqual([false, false]);
    const found = await officer.gql('query($n: String!) { residentByMyNumber(myNumber: $n) { id } }', { n: rows[0].myNumber });
    expect(found.data.residentByMyNumber).toEqual({ id: first.id });
    expect(await ticketRows(t, code)).toEqual([{ ticket_number: rows[0].ticket, series: '1-2', addressee_number: rows[0].addressee }]);

    const audit = await t.db.query(`SELECT operation, target_ids, outcome, actor_id FROM audit_event WHERE municipality_code = $1 AND operation = 'resident.import'`, [code]);
    expect(audit).toEqual([{ operation: 'resident.import', target_ids: [job.id], outcome: 'SUCCESS', actor_id: officer.accountId }]);
  });

  it('imports a Shift_JIS file, detected or declared, with era dates, full-width digits, half-width kana and English headers', async () => {
    const { code, officer } = await t.tenant();
    const rows = [
      registryRow({ birth: '令和3年4月1日', sex: '男' }),
      registryRow({ birth: 'H31.4.30', sex: 'FEMALE', familyKana: 'ｻｲﾄｳ', family: '髙橋' }),
      registryRow({ birth: 'S64.1.7', sex: '2' }),
    ];
    rows[0].myNumber = rows[0].myNumber.replace(/\d/g, (d) => String.fromCharCode(d.charCodeAt(0) + 0xfee0));
    const sjis = iconv.encode(registryCsv(rows), 'cp932');
    const job = await importFile(t, officer, sjis);
    expect(job).toMatchObject({ status: 'SUCCEEDED', encoding: 'SJIS', rowsAccepted: 3, rowsRejected: 0 });
    const stored = await residentRows(t, code);
    const by = (a: string) => stored.find((r) => r.addressee_number === a);
    expect(by(rows[0].addressee)).toMatchObject({ birth_date: '2021-04-01', sex: 'MALE' });
    expect(by(rows[1].addressee)).toMatchObject({ birth_date: '2019-04-30', sex: 'FEMALE', family_name: '髙橋', family_name_kana: 'サイトウ' });
    expect(by(rows[2].addressee)).toMatchObject({ birth_date: '1989-01-07', sex: 'FEMALE' });

    const english = ['addressee_number', 'my_number', 'family_name', 'given_name', 'family_name_kana', 'given_name_kana', 'birth_date', 'sex', 'ticket_number', 'series', 'municipality_code'];
    const declared = await importFile(t, officer, iconv.encode(registryCsv([registryRow()], english), 'cp932'), 'mode=SKIP&encoding=sjis');
    expect(declared).toMatchObject({ status: 'SUCCEEDED', encoding: 'SJIS', mode: 'SKIP', residentsInserted: 1 });
    // An ASCII-only file reads as UTF-8 unless the caller declares otherwise.
    const header = `${english.join(',')}\r\n`;
    expect(await importFile(t, officer, header)).toMatchObject({ status: 'SUCCEEDED', encoding: 'UTF8', rowsRead: 0 });
    expect(await importFile(t, officer, header, 'encoding=sjis')).toMatchObject({ status: 'SUCCEEDED', encoding: 'SJIS', rowsRead: 0 });
  });

  it('reports a bad row in the middle by line and column: ABORT writes nothing, SKIP applies the rest', async () => {
    const { code, officer } = await t.tenant();
    const rows = [registryRow(), registryRow(), registryRow({ myNumber: '123456789019', given: '', sex: '9' }), registryRow(), registryRow({ birth: 'R3.2.29' })];
    const csv = registryCsv(rows);

    const aborted = await importFile(t, officer, csv, 'mode=ABORT');
    expect(aborted).toMatchObject({ status: 'FAILED', rowsRead: 5, rowsAccepted: 3, rowsRejected: 2, residentsInserted: 0 });
    expect(aborted.failureReason).toBe('2 row(s) rejected; under mode ABORT nothing was written');
    expect(aborted.rejections.nodes).toEqual([
      { line: 4, column: '個人番号', field: 'myNumber', code: 'INVALID_CHECK_DIGIT', message: 'check digit does not match (mistyped number?)' },
      { line: 4, column: '名', field: 'givenName', code: 'REQUIRED', message: 'is required' },
      { line: 4, column: '性別', field: 'sex', code: 'INVALID_FORMAT', message: 'unknown sex code; use 1/2, 男/女, M/F or MALE/FEMALE' },
      { line: 6, column: '生年月日', field: 'birthDate', code: 'INVALID_DATE', message: 'must be a real date (YYYY-MM-DD, 令和3年4月1日 or R3.4.1)' },
    ]);
    expect(await residentRows(t, code)).toEqual([]);
    expect(await ticketRows(t, code)).toEqual([]);

    const skipped = await importFile(t, officer, csv, 'mode=SKIP');
    expect(skipped).toMatchObject({ status: 'SUCCEEDED', rowsRead: 5, rowsAccepted: 3, rowsRejected: 2, residentsInserted: 3, ticketsInserted: 3 });
    expect(skipped.rejections.nodes.map((r: any) => r.line)).toEqual([4, 4, 4, 6]);
    expect((await residentRows(t, code)).map((r) => r.addressee_number).sort()).toEqual([rows[0], rows[1], rows[3]].map((r) => r.addressee).sort());
  });

  it('is idempotent: re-importing the same file changes nothing, not even updated_at; a changed row updates that resident only', async () => {
    const { code, officer } = await t.tenant();
    const rows = [registryRow(), registryRow(), registryRow()];
    expect(await importFile(t, officer, registryCsv(rows))).toMatchObject({ status: 'SUCCEEDED', residentsInserted: 3 });
    const before = await residentRows(t, code);
    const ticketsBefore = await ticketRows(t, code);

    const again = await importFile(t, officer, registryCsv(rows));
    expect(again).toMatchObject({ status: 'SUCCEEDED', rowsAccepted: 3, residentsInserted: 0, residentsUpdated: 0, ticketsInserted: 0, ticketsUpdated: 0 });
    expect(await residentRows(t, code)).toEqual(before);
    expect(await ticketRows(t, code)).toEqual(ticketsBefore);

    const changed = rows.map((r, i) => (i === 1 ? { ...r, family: '佐藤', familyKana: 'サトウ', myNumber: registryRow().myNumber } : i === 0 ? { ...r, series: '3' } : r));
    const updated = await importFile(t, officer, registryCsv(changed));
    expect(updated).toMatchObject({ status: 'SUCCEEDED', residentsInserted: 0, residentsUpdated: 1, ticketsInserted: 0, ticketsUpdated: 1 });
    const after = await residentRows(t, code);
    expect(after[0]).toEqual(before[0]);
    expect(after[2]).toEqual(before[2]);
    expect(after[1]).toMatchObject({ id: before[1].id, family_name: '佐藤', family_name_kana: 'サトウ', created_at: before[1].created_at });
    expect(after[1].updated_at.getTime()).toBeGreaterThan(before[1].updated_at.getTime());
    const read = await officer.gql(MY_NUMBER, { id: before[1].id });
    expect(read.data.resident.myNumber).toBe(changed[1].myNumber);
    // The ticket keeps its number and resident; only its series follows the file.
    expect(await ticketRows(t, code)).toEqual(ticketsBefore.map((x: { ticket_number: string }) => (x.ticket_number === rows[0].ticket ? { ...x, series: '3' } : x)));

    // The operation log names the residents each import created or changed, after the job's id.
    const logged = await t.db.query(
      `SELECT operation, target_ids, actor_id FROM audit_event WHERE municipality_code = $1 AND operation LIKE 'resident.import.%' ORDER BY id`, [code]);
    const [first] = await t.db.query(`SELECT id FROM import_job WHERE municipality_code = $1 ORDER BY created_at LIMIT 1`, [code]);
    expect(logged.map((e: any) => ({ ...e, target_ids: [e.target_ids[0], ...e.target_ids.slice(1).sort()] }))).toEqual([
      { operation: 'resident.import.create', target_ids: [first.id, ...before.map((r) => r.id).sort()], actor_id: officer.accountId },
      { operation: 'resident.import.update', target_ids: [updated.id, before[1].id], actor_id: officer.accountId },
    ]);
    const search = await officer.gql('query($id: String!) { auditEvents(filter: { targetId: $id }) { nodes { operation } } }', { id: before[1].id });
    expect(search.data.auditEvents.nodes.map((e: any) => e.operation)).toEqual(['resident.myNumber.read', 'resident.read', 'resident.import.update', 'resident.import.create']);
    // And the tickets: each created with its resident, and the one whose series the file changed.
    const tickets = await t.db.query(
      `SELECT operation, target_ids FROM audit_event WHERE municipality_code = $1 AND operation LIKE 'ticket.import.%' ORDER BY id`, [code]);
    const ticketIds = await t.db.query('SELECT id, ticket_number FROM ticket WHERE municipality_code = $1 ORDER BY id', [code]);
    const changedTicket = ticketIds.find((x: any) => x.ticket_number === rows[0].ticket);
    expect(tickets.map((e: any) => ({ ...e, target_ids: [e.target_ids[0], ...e.target_ids.slice(1).sort()] }))).toEqual([
      { operation: 'ticket.import.create', target_ids: [first.id, ...ticketIds.map((x: any) => x.id).sort()] },
      { operation: 'ticket.import.update', target_ids: [updated.id, changedTicket.id] },
    ]);
  });

  it('hands out new ids in addressee-number order, whatever the file order, so the keys grow at one edge', async () => {
    const { code, officer } = await t.tenant();
    const rows = ['K-30', 'K-10', 'K-50', 'K-20', 'K-40'].map((addressee) => registryRow({ addressee }));
    expect(await importFile(t, officer, registryCsv(rows))).toMatchObject({ status: 'SUCCEEDED', residentsInserted: 5, ticketsInserted: 5 });
    const ids = await t.db.query(
      `SELECT r.id::text AS resident, t.id::text AS ticket FROM resident r JOIN ticket t ON t.municipality_code = r.municipality_code AND t.resident_id = r.id
       WHERE r.municipality_code = $1 ORDER BY r.addressee_number`,
      [code],
    );
    const ascending = (values: string[]) => values.every((v, i) => i === 0 || values[i - 1] < v);
    expect(ids).toHaveLength(5);
    expect(ascending(ids.map((r: { resident: string }) => r.resident))).toBe(true);
    expect(ascending(ids.map((r: { ticket: string }) => r.ticket))).toBe(true);
  });

  it('rejects rows of another municipality, and nothing lands in that tenant', async () => {
    const mine = await t.tenant();
    const other = await t.tenant();
    const rows = [registryRow({ municipality: mine.code }), registryRow({ municipality: other.code }), registryRow({ municipality: mine.code.slice(0, 5) })];
    const job = await importFile(t, mine.officer, registryCsv(rows), 'mode=SKIP');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsAccepted: 2, rowsRejected: 1 });
    expect(job.rejections.nodes).toEqual([
      { line: 3, column: '自治体コード', field: 'municipalityCode', code: 'OTHER_MUNICIPALITY', message: 'row belongs to another municipality; only the own municipality\'s residents can be imported' },
    ]);
    expect(await residentRows(t, other.code)).toEqual([]);
    expect((await residentRows(t, mine.code)).map((r) => r.addressee_number).sort()).toEqual([rows[0].addressee, rows[2].addressee].sort());
  });

  it('takes the ward codes of a designated city as its own, and no other city\'s', async () => {
    // 横浜市 is one tenant; its registry extracts may name the ward (鶴見区 141011) in either form.
    const yokohama = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: '141003' });
    const rows = [registryRow({ municipality: '141011' }), registryRow({ municipality: '14101' }), registryRow({ municipality: '141330' })];
    const job = await importFile(t, yokohama, registryCsv(rows), 'mode=SKIP');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsAccepted: 2, rowsRejected: 1 });
    // 川崎市中原区 is another city's ward.
    expect(job.rejections.nodes).toEqual([expect.objectContaining({ line: 4, field: 'municipalityCode', code: 'OTHER_MUNICIPALITY' })]);
    const stored = await t.db.query('SELECT addressee_number FROM resident WHERE municipality_code = $1 AND addressee_number = ANY ($2)', ['141003', rows.map((r) => r.addressee)]);
    expect(stored.map((r: { addressee_number: string }) => r.addressee_number).sort()).toEqual([rows[0].addressee, rows[1].addressee].sort());
  });

  it('takes the wards a designated city has had since 2024 as its own, and its former ones', async () => {
    // 浜松市 merged its seven wards into 中央区 (221384), 浜名区 (221392) and 天竜区 (221406) on 2024-01-01;
    // 中区 (221317) is a former one.
    const hamamatsu = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: '221309' });
    const rows = ['221384', '22139', '221406', '221317', '221007'].map((municipality) => registryRow({ municipality }));
    const job = await importFile(t, hamamatsu, registryCsv(rows), 'mode=SKIP');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsAccepted: 4, rowsRejected: 1 });
    // 静岡市 is another city of the prefecture.
    expect(job.rejections.nodes).toEqual([expect.objectContaining({ line: 6, field: 'municipalityCode', code: 'OTHER_MUNICIPALITY' })]);
  });

  it('tells a code no municipality has from another municipality\'s: a spreadsheet that dropped the leading zero', async () => {
    const sapporo = await t.session(Role.MUNICIPALITY, Channel.LGWAN, { municipalityCode: '011002' });
    // 11002 is 札幌市's 01100 without its zero (and so no municipality's); 012025 is 函館市; 13191 is a typo of 13101.
    const rows = ['011002', '11002', '012025', '13191'].map((municipality) => registryRow({ municipality }));
    const job = await importFile(t, sapporo, registryCsv(rows), 'mode=SKIP');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsAccepted: 1, rowsRejected: 3 });
    expect(job.rejections.nodes).toEqual([
      { line: 3, column: '自治体コード', field: 'municipalityCode', code: 'UNKNOWN_MUNICIPALITY', message: 'is not a municipality in the national list' },
      expect.objectContaining({ line: 4, code: 'OTHER_MUNICIPALITY' }),
      expect.objectContaining({ line: 5, code: 'UNKNOWN_MUNICIPALITY' }),
    ]);
  });

  it('skips lines that hold no row: empty, commas only, blanks, and the Ctrl-Z some systems end a file with', async () => {
    const { officer } = await t.tenant();
    const [first, second] = [registryRow(), registryRow({ sex: '9' })];
    const [header, a, b] = registryCsv([first, second]).split('\r\n');
    const file = [header, '', a, ',,,,,,', '\u3000', b, '\x1a'].join('\r\n');
    const job = await importFile(t, officer, file, 'mode=SKIP');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsRead: 2, rowsAccepted: 1, rowsRejected: 1 });
    expect(job.rejections.nodes).toEqual([expect.objectContaining({ line: 6, field: 'sex', code: 'INVALID_FORMAT' })]);
  });

  it('rejects duplicates inside the file and numbers already held by another resident', async () => {
    const { code, officer } = await t.tenant();
    const existing = registryRow();
    await importFile(t, officer, registryCsv([existing]));
    const first = registryRow();
    const rows = [
      first,
      registryRow({ addressee: first.addressee }),
      registryRow({ myNumber: first.myNumber }),
      registryRow({ ticket: first.ticket }),
      registryRow({ myNumber: existing.myNumber }),
      registryRow({ ticket: existing.ticket }),
    ];
    const job = await importFile(t, officer, registryCsv(rows), 'mode=SKIP');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsRead: 6, rowsAccepted: 1, rowsRejected: 5, residentsInserted: 1 });
    expect(job.rejections.nodes).toEqual([
      { line: 3, column: '宛名番号', field: 'addresseeNumber', code: 'DUPLICATE', message: 'same addressee number as line 2 of this file' },
      { line: 4, column: '個人番号', field: 'myNumber', code: 'DUPLICATE', message: 'same My Number as line 2 of this file' },
      { line: 5, column: '接種券番号', field: 'ticketNumber', code: 'DUPLICATE', message: 'same ticket number as line 2 of this file' },
      { line: 6, column: '個人番号', field: 'myNumber', code: 'DUPLICATE', message: 'another resident of this municipality has this My Number' },
      { line: 7, column: '接種券番号', field: 'ticketNumber', code: 'DUPLICATE', message: 'ticket number belongs to another resident of this municipality' },
    ]);
    expect((await residentRows(t, code)).map((r) => r.addressee_number).sort()).toEqual([existing.addressee, first.addressee].sort());

    const lone = registryRow();
    const onlyMyNumber = await importFile(t, officer, registryCsv([lone, registryRow({ myNumber: lone.myNumber })]), 'mode=SKIP');
    expect(onlyMyNumber.rejections.nodes).toEqual([
      { line: 3, column: '個人番号', field: 'myNumber', code: 'DUPLICATE', message: 'same My Number as line 2 of this file' },
    ]);
  });

  it('rejects a row repeating the keys of a row refused for another reason, as a duplicate of that line', async () => {
    const { code, officer } = await t.tenant();
    const refused = registryRow({ sex: '9' });
    const rows = [
      refused,
      registryRow({ addressee: refused.addressee }),
      registryRow({ myNumber: refused.myNumber }),
      registryRow({ ticket: refused.ticket }),
      registryRow(),
    ];
    const job = await importFile(t, officer, registryCsv(rows), 'mode=SKIP');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsRead: 5, rowsAccepted: 1, rowsRejected: 4, residentsInserted: 1 });
    expect(job.rejections.nodes).toEqual([
      { line: 2, column: '性別', field: 'sex', code: 'INVALID_FORMAT', message: 'unknown sex code; use 1/2, 男/女, M/F or MALE/FEMALE' },
      { line: 3, column: '宛名番号', field: 'addresseeNumber', code: 'DUPLICATE', message: 'same addressee number as line 2 of this file' },
      { line: 4, column: '個人番号', field: 'myNumber', code: 'DUPLICATE', message: 'same My Number as line 2 of this file' },
      { line: 5, column: '接種券番号', field: 'ticketNumber', code: 'DUPLICATE', message: 'same ticket number as line 2 of this file' },
    ]);
    expect((await residentRows(t, code)).map((r) => r.addressee_number)).toEqual([rows[4].addressee]);
  });

  it('reports every repeat a row makes, after its own problems, and counts the row once', async () => {
    const { officer } = await t.tenant();
    const first = registryRow();
    const rows = [first, registryRow({ addressee: first.addressee, myNumber: first.myNumber, sex: 'X' }), registryRow({ addressee: first.addressee, ticket: first.ticket })];
    const job = await importFile(t, officer, registryCsv(rows), 'mode=ABORT');
    expect(job).toMatchObject({ status: 'FAILED', rowsRead: 3, rowsRejected: 2 });
    expect(job.rejections.nodes).toEqual([
      { line: 3, column: '性別', field: 'sex', code: 'INVALID_FORMAT', message: 'unknown sex code; use 1/2, 男/女, M/F or MALE/FEMALE' },
      { line: 3, column: '宛名番号', field: 'addresseeNumber', code: 'DUPLICATE', message: 'same addressee number as line 2 of this file' },
      { line: 3, column: '個人番号', field: 'myNumber', code: 'DUPLICATE', message: 'same My Number as line 2 of this file' },
      { line: 4, column: '宛名番号', field: 'addresseeNumber', code: 'DUPLICATE', message: 'same addressee number as line 2 of this file' },
      { line: 4, column: '接種券番号', field: 'ticketNumber', code: 'DUPLICATE', message: 'same ticket number as line 2 of this file' },
    ]);
  });

  it('reads a birth date on the day one era passed to the next under either era, as registries write it', async () => {
    const { code, officer } = await t.tenant();
    const rows = [registryRow({ birth: '大正15年12月25日' }), registryRow({ birth: '昭和元年12月25日' }), registryRow({ birth: 'M45.7.30' }), registryRow({ birth: 'T元.7.30' })];
    expect(await importFile(t, officer, registryCsv(rows))).toMatchObject({ status: 'SUCCEEDED', rowsAccepted: 4, rowsRejected: 0 });
    expect((await residentRows(t, code)).map((r) => [r.addressee_number, r.birth_date])).toEqual([
      [rows[0].addressee, '1926-12-25'], [rows[1].addressee, '1926-12-25'], [rows[2].addressee, '1912-07-30'], [rows[3].addressee, '1912-07-30'],
    ]);
  });

  it('reads a birth date\'s hyphens as registerResident reads them: the ー kana mode types, a dash or a minus sign', async () => {
    const { code, officer } = await t.tenant();
    const typed = ['１９８０ー０４ー０１', '1980ｰ4ｰ1', '1980\u22124\u22121'];
    const entered = residentInput({ birthDate: typed[0] });
    expect((await officer.gql(REGISTER, { input: entered })).data.registerResident.userErrors).toEqual([]);
    const rows = typed.map((birth) => registryRow({ birth }));
    expect(await importFile(t, officer, registryCsv(rows))).toMatchObject({ status: 'SUCCEEDED', rowsAccepted: 3, rowsRejected: 0 });
    const stored = await residentRows(t, code);
    expect(stored.map((r) => r.addressee_number).sort()).toEqual([entered.addresseeNumber, ...rows.map((r) => r.addressee)].sort());
    expect(stored.map((r) => r.birth_date)).toEqual(Array(4).fill('1980-04-01'));
  });

  it('reads sex codes and kana as registry systems write them, and no property name as a sex code', async () => {
    const { code, officer } = await t.tenant();
    const rows = [
      registryRow({ sex: 'constructor' }),
      registryRow({ sex: '__proto__' }),
      registryRow({ sex: 'ｆ', familyKana: 'ﾜﾞﾀﾅﾍﾞ', givenKana: 'サヽキ' }),
    ];
    const job = await importFile(t, officer, registryCsv(rows), 'mode=SKIP');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsAccepted: 1, rowsRejected: 2, residentsInserted: 1 });
    expect(job.rejections.nodes.map((r: any) => [r.line, r.field, r.code])).toEqual([[2, 'sex', 'INVALID_FORMAT'], [3, 'sex', 'INVALID_FORMAT']]);
    expect(await residentRows(t, code)).toEqual([expect.objectContaining({ addressee_number: rows[2].addressee, sex: 'FEMALE', family_name_kana: 'ヷタナベ', given_name_kana: 'サヽキ' })]);
  });

  it('issues the tickets a re-import adds to residents it had already registered', async () => {
    const { code, officer } = await t.tenant();
    const rows = [registryRow(), registryRow()];
    const bare = rows.map((r) => ({ ...r, ticket: '', series: '' }));
    expect(await importFile(t, officer, registryCsv(bare))).toMatchObject({ status: 'SUCCEEDED', residentsInserted: 2, ticketsInserted: 0 });
    const residents = await residentRows(t, code);
    const newcomer = registryRow();
    const job = await importFile(t, officer, registryCsv([...rows, newcomer]));
    expect(job).toMatchObject({ status: 'SUCCEEDED', residentsInserted: 1, residentsUpdated: 0, ticketsInserted: 3 });
    const stored = await residentRows(t, code);
    for (const before of residents) expect(stored).toContainEqual(before);
    expect((await ticketRows(t, code)).map((r) => [r.addressee_number, r.ticket_number]).sort())
      .toEqual([...rows, newcomer].map((r) => [r.addressee, r.ticket]).sort());
    // Every new ticket is named in the operation log: the newcomer's with it, the others after.
    const logged = await t.db.query(`SELECT unnest(target_ids[2:]) AS id FROM audit_event WHERE municipality_code = $1 AND operation = 'ticket.import.create'`, [code]);
    const tickets = await t.db.query('SELECT id FROM ticket WHERE municipality_code = $1', [code]);
    expect(logged.map((r: any) => r.id).sort()).toEqual(tickets.map((r: any) => r.id).sort());
  });

  it('keeps the rules of ticket issuing: none for a resident who moved out or died, one open ticket for any dose', async () => {
    const { code, officer } = await t.tenant();
    const [holder, leaver, deceased, other] = [registryRow(), registryRow(), registryRow(), registryRow()];
    expect(await importFile(t, officer, registryCsv([holder, leaver, deceased, other]))).toMatchObject({ status: 'SUCCEEDED', ticketsInserted: 4 });
    const idOf = async (addressee: string) => (await t.db.query('SELECT id FROM resident WHERE municipality_code = $1 AND addressee_number = $2', [code, addressee]))[0].id;
    const moved = await officer.gql('mutation($id: ID!) { markResidentMovedOut(id: $id, movedOutOn: "2024-04-01") { userErrors { code } } }', { id: await idOf(leaver.addressee) });
    expect(moved.data.markResidentMovedOut.userErrors).toEqual([]);
    const died = await officer.gql('mutation($id: ID!) { markResidentDeceased(id: $id, deceasedOn: "2024-04-01") { userErrors { code } } }', { id: await idOf(deceased.addressee) });
    expect(died.data.markResidentDeceased.userErrors).toEqual([]);
    const before = await ticketRows(t, code);

    const again = [
      // Series 2 overlaps the 1-2 the holder's open ticket covers.
      { ...holder, ticket: registryRow().ticket, series: '2' }, { ...leaver, ticket: registryRow().ticket, series: '3' },
      { ...deceased, ticket: registryRow().ticket, series: '3' }, { ...other, ticket: registryRow().ticket, series: '3' },
    ];
    const job = await importFile(t, officer, registryCsv(again), 'mode=SKIP');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsAccepted: 1, rowsRejected: 3, ticketsInserted: 1 });
    expect(job.rejections.nodes).toEqual([
      { line: 2, column: '接種券番号', field: 'ticketNumber', code: 'DUPLICATE', message: 'resident already holds an open ticket of series 1-2' },
      { line: 3, column: '接種券番号', field: 'ticketNumber', code: 'RESIDENT_MOVED_OUT', message: 'resident is moved out; no ticket is issued' },
      { line: 4, column: '接種券番号', field: 'ticketNumber', code: 'RESIDENT_DECEASED', message: 'resident is recorded as deceased; no ticket is issued' },
    ]);
    expect(await ticketRows(t, code)).toEqual(
      [...before, { ticket_number: again[3].ticket, series: '3', addressee_number: other.addressee }].sort((a, b) => a.ticket_number.localeCompare(b.ticket_number)),
    );
  });

  it('leaves a listed resident\'s move out or death as recorded, while their names follow the file', async () => {
    const { code, officer } = await t.tenant();
    const [leaver, deceased] = [registryRow(), registryRow()];
    await importFile(t, officer, registryCsv([leaver, deceased]));
    const idOf = async (addressee: string) => (await t.db.query('SELECT id FROM resident WHERE municipality_code = $1 AND addressee_number = $2', [code, addressee]))[0].id;
    const moved = await officer.gql('mutation($id: ID!) { markResidentMovedOut(id: $id, movedOutOn: "2024-04-01") { userErrors { code } } }', { id: await idOf(leaver.addressee) });
    expect(moved.data.markResidentMovedOut.userErrors).toEqual([]);
    const died = await officer.gql('mutation($id: ID!) { markResidentDeceased(id: $id, deceasedOn: "2024-05-01") { userErrors { code } } }', { id: await idOf(deceased.addressee) });
    expect(died.data.markResidentDeceased.userErrors).toEqual([]);

    const job = await importFile(t, officer, registryCsv([{ ...leaver, given: '次郎' }, { ...deceased, given: '三郎' }]));
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsRejected: 0, residentsUpdated: 2 });
    const stored = await t.db.query(
      `SELECT addressee_number, given_name, status, moved_out_on::text, deceased_on::text FROM resident WHERE municipality_code = $1 ORDER BY addressee_number`, [code]);
    expect(stored).toEqual([
      { addressee_number: leaver.addressee, given_name: '次郎', status: 'MOVED_OUT', moved_out_on: '2024-04-01', deceased_on: null },
      { addressee_number: deceased.addressee, given_name: '三郎', status: 'DECEASED', moved_out_on: null, deceased_on: '2024-05-01' },
    ].sort((a, b) => a.addressee_number.localeCompare(b.addressee_number)));
  });

  it('keeps a changed birth date before the resident\'s first recorded dose', async () => {
    const { code, officer } = await t.tenant();
    const [vaccinated, other] = [registryRow({ birth: '1990-01-01' }), registryRow({ birth: '1990-01-01' })];
    await importFile(t, officer, registryCsv([vaccinated, other]));
    const [{ id }] = await t.db.query('SELECT id FROM resident WHERE municipality_code = $1 AND addressee_number = $2', [code, vaccinated.addressee]);
    await insertDose(t, code, id, { vaccinatedOn: '2021-06-01' });
    const job = await importFile(t, officer, registryCsv([{ ...vaccinated, birth: '2021-06-02' }, { ...other, birth: '2021-06-02' }]), 'mode=SKIP');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsAccepted: 1, rowsRejected: 1, residentsUpdated: 1 });
    expect(job.rejections.nodes).toEqual([
      { line: 2, column: '生年月日', field: 'birthDate', code: 'DATE_AFTER_NEXT_DOSE', message: 'must not be after the first recorded dose (2021-06-01)' },
    ]);
    const births = await t.db.query('SELECT addressee_number, birth_date::text FROM resident WHERE municipality_code = $1 ORDER BY addressee_number', [code]);
    expect(births).toEqual([{ addressee_number: vaccinated.addressee, birth_date: '1990-01-01' }, { addressee_number: other.addressee, birth_date: '2021-06-02' }]
      .sort((a, b) => a.addressee_number.localeCompare(b.addressee_number)));
  });

  it('keeps a changed birth date before the issue date of an open ticket the resident holds', async () => {
    const { code, officer } = await t.tenant();
    const [holder, voided] = [registryRow({ birth: '1990-01-01' }), registryRow({ birth: '1990-01-01' })];
    await importFile(t, officer, registryCsv([holder, voided]));
    await t.db.query(`UPDATE ticket SET issued_on = '2022-01-01' WHERE municipality_code = $1`, [code]);
    // A voided ticket does not hold the date back: its holder's correction goes through.
    await t.db.query(`UPDATE ticket SET voided_on = '2022-02-01', void_reason = 'lost' WHERE municipality_code = $1 AND ticket_number = $2`, [code, voided.ticket]);
    const job = await importFile(t, officer, registryCsv([{ ...holder, birth: '2023-05-05' }, { ...voided, birth: '2023-05-05' }]), 'mode=SKIP');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsAccepted: 1, rowsRejected: 1, residentsUpdated: 1 });
    expect(job.rejections.nodes).toEqual([
      { line: 2, column: '生年月日', field: 'birthDate', code: 'INVALID_DATE', message: `must not be after the issue date of ticket ${holder.ticket} (2022-01-01)` },
    ]);
    const births = await t.db.query('SELECT addressee_number, birth_date::text FROM resident WHERE municipality_code = $1 ORDER BY addressee_number', [code]);
    expect(births).toEqual([{ addressee_number: holder.addressee, birth_date: '1990-01-01' }, { addressee_number: voided.addressee, birth_date: '2023-05-05' }]
      .sort((a, b) => a.addressee_number.localeCompare(b.addressee_number)));
  });

  it('holds the residents whose birth date it changes from its checks to its commit: a correction meanwhile sees the new date', async () => {
    const { code, officer } = await t.tenant();
    const row = registryRow({ birth: '2023-01-01' });
    await importFile(t, officer, registryCsv([row]));
    const [{ id: residentId }] = await t.db.query('SELECT id FROM resident WHERE municipality_code = $1 AND addressee_number = $2', [code, row.addressee]);
    const recorded = await officer.gql('mutation($input: RecordDoseInput!) { recordDose(input: $input) { record { id } userErrors { code } } }',
      { input: { residentId, doseNumber: 1, vaccinatedOn: '2023-10-01', vaccineCode: 'MODERNA-SPIKEVAX', lotNumber: 'A1' } });
    expect(recorded.data.recordDose.userErrors).toEqual([]);
    // The import is held after its checks: its next statement writes the rejection list.
    const hold = t.db.createQueryRunner();
    await hold.connect();
    await hold.startTransaction();
    await hold.query('LOCK TABLE import_rejection IN ACCESS EXCLUSIVE MODE');
    let correction: Promise<any> | undefined;
    let jobId = '';
    try {
      const up = await upload(t, officer, registryCsv([{ ...row, birth: '2023-06-01' }]));
      expect(up.status).toBe(202);
      jobId = up.body.jobId;
      await blockedBy(t.db, hold, '%INSERT INTO import_rejection%');
      // Between the birth 2023-01-01 on record and the 2023-06-01 the import writes.
      correction = officer.gql('mutation($id: ID!, $input: CorrectRecordInput!) { correctVaccinationRecord(id: $id, input: $input) { userErrors { field code } } }',
        { id: recorded.data.recordDose.record.id, input: { vaccinatedOn: '2023-03-01', reason: 'date misread' } });
      // Given a second to go through; it must wait for the import instead.
      await Promise.race([correction, new Promise((r) => setTimeout(r, 1000))]);
    } finally {
      await hold.commitTransaction();
      await hold.release();
    }
    expect((await finishedJob(officer, jobId)).status).toBe('SUCCEEDED');
    expect((await correction!).data.correctVaccinationRecord.userErrors).toEqual([{ field: ['input', 'vaccinatedOn'], code: 'DATE_BEFORE_BIRTH' }]);
    const [state] = await t.db.query(
      `SELECT r.birth_date::text AS birth, v.vaccinated_on::text AS dose FROM resident r JOIN vaccination_record v
         ON v.municipality_code = r.municipality_code AND v.resident_id = r.id AND v.status = 'COMPLETED' WHERE r.municipality_code = $1 AND r.id = $2`,
      [code, residentId],
    );
    expect(state).toEqual({ birth: '2023-06-01', dose: '2023-10-01' });
  });

  it('is not undone by a birth date an officer changes after its checks: a dose recorded meanwhile never lands before the birth date it writes', async () => {
    const { code, officer } = await t.tenant();
    const row = registryRow({ birth: '2023-01-01' });
    await importFile(t, officer, registryCsv([row]));
    const [{ id: residentId }] = await t.db.query('SELECT id FROM resident WHERE municipality_code = $1 AND addressee_number = $2', [code, row.addressee]);
    // The import is held after its checks, which found the resident's birth date as the file has it.
    const hold = t.db.createQueryRunner();
    await hold.connect();
    await hold.startTransaction();
    await hold.query('LOCK TABLE import_rejection IN ACCESS EXCLUSIVE MODE');
    let changed: any;
    let recorded: any;
    let jobId = '';
    try {
      const up = await upload(t, officer, registryCsv([row]));
      expect(up.status).toBe(202);
      jobId = up.body.jobId;
      await blockedBy(t.db, hold, '%INSERT INTO import_rejection%');
      changed = await officer.gql('mutation($id: ID!, $input: UpdateResidentInput!) { updateResident(id: $id, input: $input) { resident { birthDate } userErrors { field code } } }',
        { id: residentId, input: { birthDate: '2022-06-01' } });
      // After the birth date the officer gave, before the one the file gives.
      recorded = await officer.gql('mutation($input: RecordDoseInput!) { recordDose(input: $input) { record { id } userErrors { field code } } }',
        { input: { residentId, doseNumber: 1, vaccinatedOn: '2022-10-01', vaccineCode: 'MODERNA-SPIKEVAX', lotNumber: 'A1' } });
    } finally {
      await hold.commitTransaction();
      await hold.release();
    }
    expect((await finishedJob(officer, jobId)).status).toBe('SUCCEEDED');
    expect(changed.data.updateResident).toEqual({ resident: null, userErrors: [{ field: ['input', 'birthDate'], code: 'INVALID_STATE' }] });
    expect(recorded.data.recordDose).toEqual({ record: null, userErrors: [{ field: ['input', 'vaccinatedOn'], code: 'DATE_BEFORE_BIRTH' }] });
    const state = await t.db.query(
      `SELECT r.birth_date::text AS birth, v.vaccinated_on::text AS dose FROM resident r LEFT JOIN vaccination_record v
         ON v.municipality_code = r.municipality_code AND v.resident_id = r.id AND v.status = 'COMPLETED' WHERE r.municipality_code = $1 AND r.id = $2`,
      [code, residentId],
    );
    expect(state).toEqual([{ birth: '2023-01-01', dose: null }]);
  });

  it('keeps a changed birth date before a recorded move out or death', async () => {
    const { code, officer } = await t.tenant();
    const [moved, died] = [registryRow({ birth: '1990-01-01', ticket: '', series: '' }), registryRow({ birth: '1990-01-01', ticket: '', series: '' })];
    await importFile(t, officer, registryCsv([moved, died]));
    const idOf = async (r: typeof moved) => (await t.db.query('SELECT id FROM resident WHERE municipality_code = $1 AND addressee_number = $2', [code, r.addressee]))[0].id;
    const MOVE = 'mutation($id: ID!) { markResidentMovedOut(id: $id, movedOutOn: "2024-04-01") { userErrors { code } } }';
    const DIE = 'mutation($id: ID!) { markResidentDeceased(id: $id, deceasedOn: "2024-05-01") { userErrors { code } } }';
    expect((await officer.gql(MOVE, { id: await idOf(moved) })).data.markResidentMovedOut.userErrors).toEqual([]);
    expect((await officer.gql(DIE, { id: await idOf(died) })).data.markResidentDeceased.userErrors).toEqual([]);
    const job = await importFile(t, officer, registryCsv([{ ...moved, birth: '2024-04-02' }, { ...died, birth: '2024-05-02' }]), 'mode=SKIP');
    expect(job.rejections.nodes).toEqual([
      { line: 2, column: '生年月日', field: 'birthDate', code: 'INVALID_DATE', message: 'must not be after the recorded move out (2024-04-01)' },
      { line: 3, column: '生年月日', field: 'birthDate', code: 'INVALID_DATE', message: 'must not be after the recorded death (2024-05-01)' },
    ]);
    expect((await residentRows(t, code)).map((r) => r.birth_date)).toEqual(['1990-01-01', '1990-01-01']);
  });

  it('rejects a series that names no doses, or none the OCR line can print, and stores every series in one form', async () => {
    const { code, officer } = await t.tenant();
    const rows = [registryRow({ series: '01-02' }), registryRow({ series: '第1期' }), registryRow({ series: '10' })];
    const job = await importFile(t, officer, registryCsv(rows), 'mode=SKIP');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsAccepted: 1, rowsRejected: 2, ticketsInserted: 1 });
    expect(job.rejections.nodes).toEqual([
      { line: 3, column: '券種', field: 'series', code: 'INVALID_SERIES', message: 'must be a dose number or a range of doses, e.g. "3" or "1-2"' },
      { line: 4, column: '券種', field: 'series', code: 'INVALID_SERIES', message: 'must start at dose 9 at the latest: the ticket\'s OCR line has one digit for the dose' },
    ]);
    expect(await ticketRows(t, code)).toEqual([{ ticket_number: rows[0].ticket, series: '1-2', addressee_number: rows[0].addressee }]);
  });

  it('names a column the file lacks by the header that would add it', async () => {
    const { officer } = await t.tenant();
    // A series with no ticket number column to go with it.
    const [row] = [registryRow()];
    const file = `宛名番号,個人番号,氏,名,氏カナ,名カナ,生年月日,性別,券種\n${[row.addressee, row.myNumber, row.family, row.given, row.familyKana, row.givenKana, row.birth, row.sex, '3'].join(',')}\n`;
    const job = await importFile(t, officer, file, 'mode=SKIP');
    expect(job.rejections.nodes).toEqual([{ line: 2, column: 'ticket_number', field: 'ticketNumber', code: 'REQUIRED', message: 'is required with a series' }]);
  });

  it('moves a void ticket to the file\'s series, as a campaign widened for everyone lists it, without refusing its holder as issued a ticket', async () => {
    const { code, officer } = await t.tenant();
    const [leaver, deceased, reissued] = [registryRow(), registryRow(), registryRow()];
    await importFile(t, officer, registryCsv([leaver, deceased, reissued]));
    const idOf = async (addressee: string) => (await t.db.query('SELECT id FROM resident WHERE municipality_code = $1 AND addressee_number = $2', [code, addressee]))[0].id;
    const ticketOf = async (number: string) => (await t.db.query('SELECT id FROM ticket WHERE municipality_code = $1 AND ticket_number = $2', [code, number]))[0].id;
    // The marks void the tickets of the one who left and the one who died; the third holder's was lost and replaced.
    expect((await officer.gql('mutation($id: ID!) { markResidentMovedOut(id: $id, movedOutOn: "2024-04-01") { userErrors { code } } }',
      { id: await idOf(leaver.addressee) })).data.markResidentMovedOut.userErrors).toEqual([]);
    expect((await officer.gql('mutation($id: ID!) { markResidentDeceased(id: $id, deceasedOn: "2024-04-01") { userErrors { code } } }',
      { id: await idOf(deceased.addressee) })).data.markResidentDeceased.userErrors).toEqual([]);
    expect((await officer.gql('mutation($id: ID!) { voidTicket(id: $id, reason: "lost") { userErrors { code } } }',
      { id: await ticketOf(reissued.ticket!) })).data.voidTicket.userErrors).toEqual([]);
    const replacement = await officer.gql('mutation($input: IssueTicketsInput!) { issueTickets(input: $input) { tickets { ticketNumber } userErrors { code } } }',
      { input: { series: '1-2', tickets: [{ residentId: await idOf(reissued.addressee) }] } });
    expect(replacement.data.issueTickets.userErrors).toEqual([]);

    const widened = [leaver, deceased, reissued].map((r) => ({ ...r, series: '1-3' }));
    const job = await importFile(t, officer, registryCsv(widened), 'mode=ABORT');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsAccepted: 3, rowsRejected: 0, ticketsInserted: 0, ticketsUpdated: 3 });
    expect(job.rejections.nodes).toEqual([]);
    // The void tickets took the new series and stay void; the replacement is untouched.
    const tickets = await t.db.query('SELECT ticket_number, series, voided_on IS NOT NULL AS void FROM ticket WHERE municipality_code = $1', [code]);
    expect(tickets.sort((a: any, b: any) => a.ticket_number.localeCompare(b.ticket_number))).toEqual([
      ...widened.map((r) => ({ ticket_number: r.ticket, series: '1-3', void: true })),
      { ticket_number: replacement.data.issueTickets.tickets[0].ticketNumber, series: '1-2', void: false },
    ].sort((a, b) => a.ticket_number!.localeCompare(b.ticket_number!)));
  });

  it('keeps an existing ticket\'s series over the doses already recorded on it: a row moving it off them is rejected', async () => {
    const { code, officer } = await t.tenant();
    const [used, widened, fresh] = [registryRow(), registryRow(), registryRow()];
    await importFile(t, officer, registryCsv([used, widened, fresh]));
    // Dose 1 recorded on each of the first two tickets; none on the third.
    for (const row of [used, widened]) {
      const [ticket] = await t.db.query(
        `SELECT t.id, t.resident_id FROM ticket t WHERE t.municipality_code = $1 AND t.ticket_number = $2`, [code, row.ticket]);
      const dose = await insertDose(t, code, ticket.resident_id, { doseNumber: 1 });
      await t.db.query('UPDATE vaccination_record SET ticket_id = $3 WHERE municipality_code = $1 AND id = $2', [code, dose, ticket.id]);
    }
    const file = registryCsv([{ ...used, series: '3' }, { ...widened, series: '1-3' }, { ...fresh, series: '3' }]);
    const rejection = { line: 2, column: '券種', field: 'series', code: 'DOSE_NOT_IN_SERIES', message: 'series 3 does not cover dose 1 already recorded on this ticket' };

    const aborted = await importFile(t, officer, file, 'mode=ABORT');
    expect(aborted).toMatchObject({ status: 'FAILED', rowsAccepted: 2, rowsRejected: 1, ticketsUpdated: 0 });
    expect(aborted.rejections.nodes).toEqual([rejection]);
    expect((await ticketRows(t, code)).map((r) => r.series)).toEqual(['1-2', '1-2', '1-2']);

    const skipped = await importFile(t, officer, file, 'mode=SKIP');
    expect(skipped).toMatchObject({ status: 'SUCCEEDED', rowsAccepted: 2, rowsRejected: 1, ticketsUpdated: 2 });
    expect(skipped.rejections.nodes).toEqual([rejection]);
    const series = Object.fromEntries((await ticketRows(t, code)).map((r) => [r.ticket_number, r.series]));
    expect(series).toEqual({ [used.ticket!]: '1-2', [widened.ticket!]: '1-3', [fresh.ticket!]: '3' });
  });

  it('dates what it writes by its statements, not by the start of the upload: a resident registered meanwhile is updated after its creation', async () => {
    const { code, officer } = await t.tenant();
    const entered = residentInput();
    const rows = Array.from({ length: 50 }, () => registryRow());
    // The file's row for the resident an officer registers while the file arrives.
    const late = registryRow({ addressee: entered.addresseeNumber as string, myNumber: entered.myNumber as string, given: '花子', givenKana: 'ハナコ' });
    const { running, release } = await uploadHalf(officer, registryCsv([...rows, late]));
    expect(running.phase).toBe('RECEIVING');
    const registered = await officer.gql(REGISTER, { input: entered });
    expect(registered.data.registerResident.userErrors).toEqual([]);
    release();
    expect(await finishedJob(officer, running.id)).toMatchObject({ status: 'SUCCEEDED', residentsInserted: 50, residentsUpdated: 1, ticketsInserted: 51 });
    const [resident] = await t.db.query(
      'SELECT created_at, updated_at FROM resident WHERE municipality_code = $1 AND addressee_number = $2', [code, entered.addresseeNumber]);
    expect(resident.updated_at.getTime()).toBeGreaterThanOrEqual(resident.created_at.getTime());
    // New residents and every ticket (the registered resident's too) are no older than that entry.
    const [{ oldest }] = await t.db.query(
      `SELECT least((SELECT min(created_at) FROM resident WHERE municipality_code = $1 AND addressee_number <> $2),
                    (SELECT min(created_at) FROM ticket WHERE municipality_code = $1)) AS oldest`, [code, entered.addresseeNumber]);
    expect(oldest.getTime()).toBeGreaterThanOrEqual(resident.created_at.getTime());
  });

  it('rejects a municipality code no prefecture has as a bad value, not as another municipality\'s', async () => {
    const { officer } = await t.tenant();
    const rows = ['99999', '00000', '1310', '131017'].map((municipality) => registryRow({ municipality }));
    const job = await importFile(t, officer, registryCsv(rows), 'mode=SKIP');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsAccepted: 0, rowsRejected: 4 });
    const prefecture = { column: '自治体コード', field: 'municipalityCode', code: 'INVALID_FORMAT', message: 'must start with a prefecture code from 01 to 47' };
    expect(job.rejections.nodes).toEqual([
      { line: 2, ...prefecture },
      { line: 3, ...prefecture },
      { line: 4, column: '自治体コード', field: 'municipalityCode', code: 'INVALID_FORMAT', message: 'must be 5 or 6 digits' },
      { line: 5, column: '自治体コード', field: 'municipalityCode', code: 'INVALID_CHECK_DIGIT', message: 'check digit does not match (mistyped or misread code?)' },
    ]);
  });

  it('says what is wrong: a birth date with a time of day, a line over the size limit, a charset it does not read', async () => {
    const { officer } = await t.tenant();
    const timed = await importFile(t, officer, registryCsv([registryRow({ birth: '1970/1/1 12:00:00' }), registryRow({ birth: '1970/1/1 0:00:00' })]), 'mode=SKIP');
    expect(timed).toMatchObject({ status: 'SUCCEEDED', rowsAccepted: 1, rowsRejected: 1 });
    expect(timed.rejections.nodes).toEqual([
      { line: 2, column: '生年月日', field: 'birthDate', code: 'INVALID_DATE', message: 'must be a date only: a time of day other than 0:00 is not allowed' },
    ]);

    const header = registryCsv([]);
    const long = await importFile(t, officer, `${header}${registryCsv([registryRow()]).split('\r\n')[1]}\r\n${'x'.repeat(8 * 1024 * 1024)}\r\n`);
    expect(long).toMatchObject({ status: 'FAILED', rowsRead: 1 });
    expect(long.failureReason).toBe('line 3: the line is too long (over 4 MB, the limit for one row); nothing was written');
    const open = await importFile(t, officer, `${header}"${'x'.repeat(8 * 1024 * 1024)}\r\n`);
    expect(open.failureReason).toBe('line 2: the file is not valid CSV (a quoted field runs on for over 4 MB; quote not closed?); nothing was written');

    const latin1 = await fetch(`${baseUrl(t, Channel.LGWAN)}/imports/residents`, {
      method: 'POST', body: header, headers: { 'content-type': 'text/csv; charset=latin1', authorization: `Bearer ${officer.token}` },
    });
    expect(latin1.status).toBe(400);
    expect(((await latin1.json()) as any).errors).toEqual([{
      message: 'content-type: charset latin1 is not read by the import: send utf-8 or Shift_JIS, or no charset to have it detected',
      extensions: { code: 'BAD_USER_INPUT', field: ['content-type'], reason: 'INVALID_FORMAT' },
    }]);
    // The parameter, when given, is what is named.
    const param = await upload(t, officer, header, 'encoding=latin1');
    expect(param.body.errors[0].extensions).toEqual({ code: 'BAD_USER_INPUT', field: ['encoding'], reason: 'INVALID_FORMAT' });
    // A parameter left empty or given twice is told so, once, and not also that its value is unknown.
    for (const [query, name, message] of [['encoding=', 'encoding', 'must not be empty; leave the parameter out instead'], ['mode=', 'mode', 'must not be empty; leave the parameter out instead'],
      ['mode=ABORT&encoding=latin1&encoding=utf8', 'encoding', 'must be given once'], ['mode=FAST&mode=SKIP', 'mode', 'must be given once']]) {
      const refused = await upload(t, officer, header, query);
      expect([refused.status, refused.body.errors.map((e: any) => e.message)]).toEqual([400, [`${name}: ${message}`]]);
    }
  });

  it('counts the rows before an unreadable line alike, whatever makes it unreadable', async () => {
    const { officer } = await t.tenant();
    const good = registryCsv([registryRow({ given: '太\r\n郎' }), registryRow({ sex: '9' }), registryRow()]);
    const stray = await importFile(t, officer, `${good}${registryCsv([registryRow({ family: 'STRAY' })]).split('\r\n')[1].replace('STRAY', '"山"田')}\r\n`);
    const unclosed = await importFile(t, officer, `${good}${registryCsv([registryRow({ family: 'STRAY' })]).split('\r\n')[1].replace('STRAY', '"山田')}\r\n`);
    expect(stray.failureReason).toMatch(/^line 6: the file is not valid CSV \(CSV_INVALID_CLOSING_QUOTE\)/);
    expect(unclosed.failureReason).toMatch(/^line 6: the file is not valid CSV/);
    // Line 2's name holds a line break, line 4 an unknown sex code.
    for (const job of [stray, unclosed]) expect(job).toMatchObject({ status: 'FAILED', rowsRead: 3, rowsRejected: 2, rowsAccepted: 0 });

    // Read by worker threads too: the chunks still with them when the bad line is found are counted.
    const many = registryCsv([...Array.from({ length: 3000 }, () => registryRow()), registryRow({ sex: '9' })]);
    const threshold = t.app.services.imports.workerThresholdBytes;
    t.app.services.imports.workerThresholdBytes = 0;
    try {
      const big = await importFile(t, officer, `${many}${registryCsv([registryRow({ family: 'STRAY' })]).split('\r\n')[1].replace('STRAY', '"山"田')}\r\n`);
      expect(big).toMatchObject({ status: 'FAILED', rowsRead: 3001, rowsRejected: 1, failureReason: expect.stringMatching(/^line 3003: /) });
    } finally {
      t.app.services.imports.workerThresholdBytes = threshold;
    }
  });

  it('leaves the tenant exactly as before when the merge fails half-way', async () => {
    const { code, officer } = await t.tenant();
    const rows = [registryRow(), registryRow()];
    await importFile(t, officer, registryCsv(rows));
    const before = { residents: await residentRows(t, code), tickets: await ticketRows(t, code) };

    const changed = [{ ...rows[0], family: '変更' }, rows[1], registryRow()];
    t.app.services.imports.faultAfterResidentMerge = (job) => {
      if (job.municipalityCode === code) throw new Error('injected fault');
    };
    try {
      const job = await importFile(t, officer, registryCsv(changed));
      expect(job).toMatchObject({ status: 'FAILED', failureReason: 'the import failed unexpectedly; nothing was written', residentsInserted: 0 });
    } finally {
      t.app.services.imports.faultAfterResidentMerge = null;
    }
    expect({ residents: await residentRows(t, code), tickets: await ticketRows(t, code) }).toEqual(before);
    const [{ count }] = await t.db.query(`SELECT count(*)::int AS count FROM pg_class WHERE relname LIKE 'import_staging_%'`);
    expect(count).toBe(0);
  });

  it('fails whole, with a reason to retry, when an officer enters one of its tickets while it merges', async () => {
    const { code, officer } = await t.tenant();
    const [row] = [registryRow({ ticket: '', series: '' })];
    await importFile(t, officer, registryCsv([row]));
    const [resident] = await residentRows(t, code);
    const withTicket = { ...row, ticket: '5550001111', series: '1-2' };
    const fresh = registryRow();
    // Another writer inserts the same ticket after the import checked for it, and commits while the
    // import's insert waits on that key.
    const other = t.db.createQueryRunner();
    let committed: Promise<void> = Promise.resolve();
    t.app.services.imports.faultAfterResidentMerge = async (job) => {
      if (job.municipalityCode !== code) return;
      await other.startTransaction();
      await other.query(`INSERT INTO ticket (municipality_code, id, resident_id, ticket_number, series, issued_on) VALUES ($1, gen_random_uuid(), $2, $3, '1-2', current_date)`,
        [code, resident.id, withTicket.ticket]);
      committed = new Promise((resolve) => setTimeout(resolve, 300)).then(() => other.commitTransaction());
    };
    try {
      const job = await importFile(t, officer, registryCsv([withTicket, fresh]));
      expect(job).toMatchObject({
        status: 'FAILED', residentsInserted: 0, ticketsInserted: 0,
        failureReason: 'a resident or ticket of this municipality was entered while the import ran; nothing was written, run the import again',
      });
    } finally {
      t.app.services.imports.faultAfterResidentMerge = null;
      await committed;
      await other.release();
    }
    expect((await residentRows(t, code)).map((r) => r.addressee_number)).toEqual([row.addressee]);
    expect(await ticketRows(t, code)).toEqual([{ ticket_number: withTicket.ticket, series: '1-2', addressee_number: row.addressee }]);
  });

  describe('crossing an officer\'s transaction that waits on it while it waits on the officer', () => {
    /**
     * The officer's transaction holds resident A; the import, which holds B since its merge changed
     * it, then asks for A, and the officer for B: a deadlock, which PostgreSQL ends by stopping one.
     */
    async function crossed(officerPatience: string | null) {
      const { code, officer } = await t.tenant();
      const [a, b] = [registryRow(), registryRow()];
      await importFile(t, officer, registryCsv([a, b]));
      const idOf = async (r: typeof a) => (await t.db.query('SELECT id FROM resident WHERE municipality_code = $1 AND addressee_number = $2', [code, r.addressee]))[0].id;
      const [idA, idB] = [await idOf(a), await idOf(b)];
      const other = t.db.createQueryRunner();
      await other.connect();
      await other.startTransaction();
      if (officerPatience) await other.query(`SET LOCAL deadlock_timeout = '${officerPatience}'`);
      const [, held] = await other.query(`UPDATE resident SET given_name = '甲' WHERE municipality_code = $1 AND id = $2`, [code, idA]);
      expect(held).toBe(1);
      let officerStopped: unknown = null;
      let importPatience: string | null = null;
      let crossing: Promise<void> = Promise.resolve();
      t.app.services.imports.faultAfterResidentMerge = async (job, client) => {
        if (job.municipalityCode !== code) return;
        importPatience = (await client.query('SHOW deadlock_timeout')).rows[0].deadlock_timeout;
        crossing = blockedBy(t.db, other, '%FOR UPDATE%')
          .then(() => other.query(`UPDATE resident SET given_name = '乙' WHERE municipality_code = $1 AND id = $2`, [code, idB]))
          .then(() => undefined, (error) => void (officerStopped = error))
          .finally(() => other.rollbackTransaction());
        await client.query('SELECT 1 FROM resident WHERE municipality_code = $1 AND id = $2 FOR UPDATE', [code, idA]);
      };
      try {
        const job = await importFile(t, officer, registryCsv([a, { ...b, family: '変更' }]));
        await crossing;
        return { code, job, officerStopped, importPatience, b };
      } finally {
        t.app.services.imports.faultAfterResidentMerge = null;
        await crossing;
        await other.release();
      }
    }

    it('is the one that outwaits the other: the officer\'s transaction is stopped, the import commits', async () => {
      const { code, job, officerStopped, importPatience, b } = await crossed(null);
      expect(importPatience).toBe('5s');
      expect((officerStopped as { driverError?: { code?: string } })?.driverError?.code).toBe('40P01');
      expect(job).toMatchObject({ status: 'SUCCEEDED', residentsUpdated: 1, failureReason: null });
      const [{ family_name: family }] = await t.db.query('SELECT family_name FROM resident WHERE municipality_code = $1 AND addressee_number = $2', [code, b.addressee]);
      expect(family).toBe('変更');
    });

    it('fails whole, telling the officer to run it again, when the other transaction outwaits it', async () => {
      const { code, job, officerStopped, importPatience, b } = await crossed('60s');
      expect(importPatience).toBe('5s');
      expect(officerStopped).toBeNull();
      expect(job).toMatchObject({
        status: 'FAILED', residentsUpdated: 0,
        failureReason: 'the import and another change to the same residents waited on each other, and the database stopped the import; nothing was written, run the import again',
      });
      const [{ family_name: family }] = await t.db.query('SELECT family_name FROM resident WHERE municipality_code = $1 AND addressee_number = $2', [code, b.addressee]);
      expect(family).toBe(b.family);
    });
  });

  it('fails the job with a clear reason when the header lacks required columns', async () => {
    const { officer } = await t.tenant();
    const job = await importFile(t, officer, 'wrong,header\n1,2\n');
    expect(job.status).toBe('FAILED');
    expect(job.failureReason).toMatch(/^the header row lacks required columns: addressee_number \(宛名番号\), my_number \(個人番号\), /);
    const twice = await importFile(t, officer, registryCsv([registryRow()], [...JAPANESE_HEADER, '氏名(名)']));
    expect(twice.failureReason).toBe('the header names the given_name (名) column twice ("名" and "氏名(名)")');
  });

  it('fails the job, writing nothing, when the file is not valid CSV', async () => {
    const { code, officer } = await t.tenant();
    const csv = registryCsv([registryRow(), registryRow()]).replace(/\r\n(R[^,]*),/, '\r\n"$1"x,');
    const job = await importFile(t, officer, csv, 'mode=SKIP');
    expect(job.status).toBe('FAILED');
    expect(job.failureReason).toMatch(/^line 2: the file is not valid CSV \(CSV_INVALID_CLOSING_QUOTE\)/);
    expect(await residentRows(t, code)).toEqual([]);
    // No report was written: an empty one would read as "nothing rejected".
    expect(job.rejections).toEqual({ nodes: [], hasNextPage: false, complete: false });
    const headers = { authorization: `Bearer ${officer.token}` };
    const state = await fetch(`${baseUrl(t, Channel.LGWAN)}/imports/residents/${job.id}`, { headers });
    expect(((await state.json()) as { rejectionReportComplete: boolean }).rejectionReportComplete).toBe(false);
    expect((await fetch(`${baseUrl(t, Channel.LGWAN)}/imports/residents/${job.id}/rejections.csv`, { headers })).status).toBe(410);
  });

  it('fails the job at the line of a stray quote after quoted CRLF line breaks', async () => {
    const { officer } = await t.tenant();
    // Line 2 spans lines 2–4; line 5 is good; the stray quote is on line 6.
    const csv = registryCsv([registryRow({ given: '太\r\n\r\n郎' }), registryRow(), registryRow({ family: 'STRAY' })]).replace('STRAY', '"山"田');
    const job = await importFile(t, officer, csv, 'mode=SKIP');
    expect(job.failureReason).toMatch(/^line 6: the file is not valid CSV \(CSV_INVALID_CLOSING_QUOTE\)/);
  });

  it('reads a quote inside a plain field as data, as spreadsheets do, and stores it as written', async () => {
    const { code, officer } = await t.tenant();
    const csv = registryCsv([registryRow(), registryRow()]).replace(/\r\n(R[^,]*),([^,]*),山田/, '\r\n$1,$2,山"田');
    const job = await importFile(t, officer, csv, 'mode=SKIP');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsRead: 2, rowsAccepted: 2 });
    expect((await residentRows(t, code)).map((r) => r.family_name).sort()).toEqual(['山"田', '山田']);
  });

  it('rejects a name holding a control character, or bytes that are not text in the declared encoding', async () => {
    const { code, officer } = await t.tenant();
    const good = registryRow();
    const withNul = registryRow({ given: '太\u0000郎' });
    const sjisName = registryRow({ family: 'SJIS_NAME' });
    // A UTF-8 upload with one name written in Shift_JIS bytes (中村).
    const [before, after] = registryCsv([good, withNul, sjisName]).split('SJIS_NAME');
    const file = Buffer.concat([Buffer.from(before), iconv.encode('中村', 'cp932'), Buffer.from(after)]);
    const job = await importFile(t, officer, file, 'mode=SKIP&encoding=utf8');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsRead: 3, rowsAccepted: 1, rowsRejected: 2, residentsInserted: 1 });
    expect(job.rejections.nodes).toEqual([
      { line: 3, column: '名', field: 'givenName', code: 'INVALID_FORMAT', message: expect.stringMatching(/control characters/) },
      { line: 4, column: '氏', field: 'familyName', code: 'INVALID_FORMAT', message: expect.stringMatching(/could not be decoded/) },
    ]);
    expect((await residentRows(t, code)).map((r) => r.addressee_number)).toEqual([good.addressee]);
  });

  it('counts a name in characters, as the database does: 𠮷 is one', async () => {
    const { code, officer } = await t.tenant();
    const fits = registryRow({ family: '𠮷'.repeat(50) });
    const long = registryRow({ family: '𠮷'.repeat(51) });
    const job = await importFile(t, officer, registryCsv([fits, long]), 'mode=SKIP');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsAccepted: 1, rowsRejected: 1 });
    expect(job.rejections.nodes).toEqual([
      { line: 3, column: '氏', field: 'familyName', code: 'INVALID_FORMAT', message: 'must be at most 50 characters' },
    ]);
    expect((await residentRows(t, code)).map((r) => r.family_name)).toEqual(['𠮷'.repeat(50)]);
  });

  it('rejects a name holding 外字, which Shift_JIS user-defined characters decode to', async () => {
    const { code, officer } = await t.tenant();
    const good = registryRow();
    const gaiji = registryRow({ given: 'GAIJI' });
    const [before, after] = registryCsv([good, gaiji]).split('GAIJI');
    // 太 followed by F0 40, the first user-defined character of CP932.
    const file = Buffer.concat([iconv.encode(before + '太', 'cp932'), Buffer.from([0xf0, 0x40]), iconv.encode(after, 'cp932')]);
    const job = await importFile(t, officer, file, 'mode=SKIP&encoding=sjis');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsAccepted: 1, rowsRejected: 1 });
    expect(job.rejections.nodes).toEqual([
      { line: 3, column: '名', field: 'givenName', code: 'INVALID_FORMAT', message: expect.stringMatching(/private-use characters \(外字/) },
    ]);
    expect((await residentRows(t, code)).map((r) => r.addressee_number)).toEqual([good.addressee]);
  });

  it('fails a job whose upload was cut off before it started, instead of leaving it running', async () => {
    const { officer } = await t.tenant();
    const url = new URL(baseUrl(t, Channel.LGWAN));
    await new Promise<void>((resolve, reject) => {
      const socket = connect(Number(url.port), url.hostname, () => {
        socket.write(`POST /imports/residents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${officer.token}\r\n`
          + 'Content-Type: text/csv\r\nContent-Length: 100000\r\n\r\n宛名番号');
        // Gone while the server is still checking the token.
        setImmediate(() => socket.destroy());
        resolve();
      });
      socket.on('error', reject);
    });
    let job: any;
    for (let i = 0; i < 200 && job?.status !== 'FAILED'; i++) {
      await new Promise((r) => setTimeout(r, 25));
      job = (await officer.gql('{ importJobs(first: 1) { status failureReason } }')).data.importJobs[0];
    }
    // Either the server saw the client go before it created the job, or the job failed.
    if (job) expect(job).toEqual({ status: 'FAILED', failureReason: expect.any(String) });
    const open = await t.db.query(`SELECT 1 FROM pg_stat_activity WHERE state = 'idle in transaction' AND query LIKE '%import_staging%'`);
    expect(open).toEqual([]);
  });

  it('starts an upload whose Content-Length no counter holds, without a size to show progress against', async () => {
    const { officer } = await t.tenant();
    const url = new URL(baseUrl(t, Channel.LGWAN));
    const socket = connect(Number(url.port), url.hostname);
    socket.on('error', () => undefined);
    socket.write(`POST /imports/residents HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${officer.token}\r\n`
      + `Content-Type: text/csv\r\nContent-Length: 10000000000000000000\r\n\r\n${JAPANESE_HEADER.join(',')}\r\n`);
    let answer = '';
    socket.on('data', (bytes) => (answer += bytes));
    let job: any;
    for (let i = 0; i < 200 && !job; i++) {
      await new Promise((r) => setTimeout(r, 25));
      job = (await officer.gql('{ importJobs(first: 1) { status progress } }')).data.importJobs[0];
    }
    socket.destroy();
    expect(answer).toBe('');
    expect(job).toEqual({ status: 'RUNNING', progress: null });
  });

  it('fails an upload that falls silent, once the LG-WAN listener closes the idle connection', async () => {
    const quiet = await TestApp.start({ idleSeconds: 1 });
    try {
      const { officer } = await quiet.tenant();
      const url = new URL(baseUrl(quiet, Channel.LGWAN));
      const closed = await new Promise<number>((resolve, reject) => {
        const started = Date.now();
        const socket = connect(Number(url.port), url.hostname, () => {
          socket.write(`POST /imports/residents?mode=SKIP HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${officer.token}\r\n`
            + `Content-Type: text/csv\r\nContent-Length: 100000\r\n\r\n${registryCsv([registryRow()])}`);
        });
        socket.on('close', () => resolve(Date.now() - started));
        socket.on('error', reject);
      });
      expect(closed).toBeGreaterThanOrEqual(900);
      const [job] = (await officer.gql('{ importJobs(first: 1) { id } }')).data.importJobs;
      expect(await finishedJob(officer, job.id)).toMatchObject({
        status: 'FAILED', residentsInserted: 0, failureReason: 'the upload stopped before the end of the file; nothing was written, send the file again',
      });
    } finally {
      await quiet.stop();
    }
  });

  /** Uploads `file` in two pieces, the second sent once the job has read the first; the job as it ended. */
  async function uploadInTwo(officer: Session, file: Buffer, at: number): Promise<any> {
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const body = new ReadableStream({
      async start(controller) {
        controller.enqueue(new Uint8Array(file.subarray(0, at)));
        await gate;
        controller.enqueue(new Uint8Array(file.subarray(at)));
        controller.close();
      },
    });
    const response = fetch(`${baseUrl(t, Channel.LGWAN)}/imports/residents`, {
      method: 'POST', body, duplex: 'half', headers: { authorization: `Bearer ${officer.token}` },
    } as RequestInit);
    // The first piece has been read on its own before the rest is sent.
    for (let i = 0; i < 200; i++) {
      const [job] = (await officer.gql('{ importJobs(first: 1) { bytesRead } }')).data.importJobs;
      if (job?.bytesRead >= at) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    release();
    const answer = (await (await response).json()) as any;
    return finishedJob(officer, answer.jobId);
  }

  const ENGLISH_HEADER = ['addressee_number', 'my_number', 'family_name', 'given_name', 'family_name_kana', 'given_name_kana', 'birth_date', 'sex', 'ticket_number', 'series', 'municipality_code'];

  it('detects Shift_JIS when the upload sends an ASCII header on its own first', async () => {
    const { code, officer } = await t.tenant();
    const row = registryRow({ family: '髙橋' });
    const file = iconv.encode(registryCsv([row], ENGLISH_HEADER), 'cp932');
    const job = await uploadInTwo(officer, file, file.indexOf('\n') + 1);
    expect(job).toMatchObject({ status: 'SUCCEEDED', encoding: 'SJIS', residentsInserted: 1 });
    expect((await residentRows(t, code))[0]).toMatchObject({ family_name: '髙橋', family_name_kana: row.familyKana });
  });

  it('detects Shift_JIS when the first piece of the upload ends in the first byte of its first Japanese character', async () => {
    // 濱 is E0 5F and ﾂ C2 in Shift_JIS: each alone starts a UTF-8 character too.
    for (const [family, familyKana] of [['濱田', 'ハマダ'], ['TSURU', 'ﾂﾙ']]) {
      const { code, officer } = await t.tenant();
      const file = iconv.encode(registryCsv([registryRow({ family, familyKana }), registryRow()], ENGLISH_HEADER), 'cp932');
      const job = await uploadInTwo(officer, file, file.findIndex((b) => b > 0x7f) + 1);
      expect([family, job]).toMatchObject([family, { status: 'SUCCEEDED', encoding: 'SJIS', rowsRejected: 0, residentsInserted: 2 }]);
      expect((await residentRows(t, code)).map((r) => [r.family_name, r.family_name_kana]))
        .toEqual(expect.arrayContaining([[family, family === '濱田' ? 'ハマダ' : 'ツル']]));
    }
    // A UTF-8 file cut inside its first character is still UTF-8.
    const { officer } = await t.tenant();
    const utf8 = Buffer.from(registryCsv([registryRow({ family: '濱田' })], ENGLISH_HEADER));
    const job = await uploadInTwo(officer, utf8, utf8.findIndex((b) => b > 0x7f) + 1);
    expect(job).toMatchObject({ status: 'SUCCEEDED', encoding: 'UTF8', residentsInserted: 1 });
  });

  it('lists every rejected row with all its problems, in line order, under SKIP and under ABORT', async () => {
    const { officer } = await t.tenant();
    const twice = () => registryRow({ sex: '9', birth: 'someday', ticket: '', series: '' });
    const once = () => registryRow({ sex: '9', ticket: '', series: '' });
    const first = registryRow();
    // 1,200 rows refused while reading (two problems each, then one each), and one refused in SQL
    // (a repeated addressee number) between them: more than a page of the report can hold.
    const rows = [first, ...Array.from({ length: 600 }, twice), { ...registryRow(), addressee: first.addressee }, ...Array.from({ length: 600 }, once), registryRow()];
    for (const mode of ['SKIP', 'ABORT']) {
      const job = await importFile(t, officer, registryCsv(rows), `mode=${mode}`);
      const { lines, complete } = await rejectedLines(officer, job.id);
      expect({ status: job.status, rowsAccepted: job.rowsAccepted, rowsRejected: job.rowsRejected, complete }).toEqual({
        status: mode === 'SKIP' ? 'SUCCEEDED' : 'FAILED', rowsAccepted: 2, rowsRejected: 1201, complete: true,
      });
      const expected = [
        ...Array.from({ length: 600 }, (_, i) => [i + 3, i + 3]).flat(), 603, ...Array.from({ length: 600 }, (_, i) => i + 604),
      ];
      expect(lines).toEqual(expected);
    }
  });

  it('lists jobs with their rejections in a constant number of statements', async () => {
    const { officer } = await t.tenant();
    const LIST = '{ importJobs(first: 10) { id rejections(first: 2) { nodes { line field } hasNextPage complete } } }';
    const bad = (n: number) => registryCsv([registryRow(), ...Array.from({ length: n }, () => registryRow({ sex: '9' }))]);
    await importFile(t, officer, bad(1), 'mode=SKIP');
    const before = t.queries.count;
    await officer.gql(LIST);
    const forOne = t.queries.count - before;
    for (const n of [0, 3, 2]) await importFile(t, officer, bad(n), 'mode=SKIP');
    const start = t.queries.count;
    const { data } = await officer.gql(LIST);
    expect(t.queries.count - start).toBe(forOne);
    expect(data.importJobs.map((j: any) => j.rejections)).toEqual([
      { nodes: [{ line: 3, field: 'sex' }, { line: 4, field: 'sex' }], hasNextPage: false, complete: true },
      { nodes: [{ line: 3, field: 'sex' }, { line: 4, field: 'sex' }], hasNextPage: true, complete: true },
      { nodes: [], hasNextPage: false, complete: true },
      { nodes: [{ line: 3, field: 'sex' }], hasNextPage: false, complete: true },
    ]);
  });

  it('does not call the rejection list complete when the job failed after counting rejections', async () => {
    const { code, officer } = await t.tenant();
    const csv = registryCsv([registryRow(), registryRow({ sex: '9' })]);
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const body = new ReadableStream({
      async start(controller) {
        controller.enqueue(new TextEncoder().encode(csv));
        await gate;
        controller.enqueue(new TextEncoder().encode('R1,"unclosed\r\n'));
        controller.close();
      },
    });
    const response = fetch(`${baseUrl(t, Channel.LGWAN)}/imports/residents?mode=SKIP`, {
      method: 'POST', body, duplex: 'half', headers: { authorization: `Bearer ${officer.token}` },
    } as RequestInit);
    for (let i = 0; i < 200; i++) {
      const [job] = (await officer.gql('{ importJobs(first: 1) { rowsRejected } }')).data.importJobs;
      if (job?.rowsRejected > 0) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    release();
    const answer = (await (await response).json()) as any;
    const job = await finishedJob(officer, answer.jobId);
    expect(job).toMatchObject({ status: 'FAILED', rowsRejected: 1, rejections: { nodes: [], complete: false } });
    expect(await residentRows(t, code)).toEqual([]);
  });

  it('shows status and progress while the file is still arriving', async () => {
    const { code, officer } = await t.tenant();
    const { running, release, response } = await uploadHalf(officer, registryCsv(Array.from({ length: 50 }, () => registryRow())));
    expect(running).toMatchObject({ status: 'RUNNING', phase: 'RECEIVING', municipalityCode: code });
    expect(running.rowsRead).toBeGreaterThan(0);
    expect(running.rowsRead).toBeLessThan(50);
    release();
    const answer = (await (await response).json()) as any;
    expect(answer.jobId).toBe(running.id);
    expect(await finishedJob(officer, running.id)).toMatchObject({ status: 'SUCCEEDED', rowsRead: 50, residentsInserted: 50 });
  });

  it('records an upload cut off by the server stopping as failed, before the server lets its database go', async () => {
    const app = await TestApp.start();
    const { code, officer } = await app.tenant();
    const { running, release } = await uploadHalf(officer, registryCsv(Array.from({ length: 50 }, () => registryRow())), app);
    expect(running).toMatchObject({ status: 'RUNNING', phase: 'RECEIVING' });
    // At once: not after the 20 s other requests are given to finish.
    const stopping = Date.now();
    await app.stop();
    expect(Date.now() - stopping).toBeLessThan(10_000);
    release();
    const [job] = await t.db.query('SELECT status, failure_reason FROM import_job WHERE municipality_code = $1 AND id = $2', [code, running.id]);
    expect(job).toEqual({ status: 'FAILED', failure_reason: 'the upload stopped before the end of the file; nothing was written, send the file again' });
    expect(await residentRows(t, code)).toEqual([]);
  });

  it('logs one plain warning for a merge the server stopped before it ended, and writes nothing more', async () => {
    const app = await TestApp.start();
    const { code, officer } = await app.tenant();
    app.app.services.imports.drainMs = 50;
    let merging: () => void = () => undefined;
    const reached = new Promise<void>((resolve) => (merging = resolve));
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    // The merge outlasts the drain: the database's connections close under it.
    app.app.services.imports.faultAfterResidentMerge = async () => {
      merging();
      await gate;
    };
    const { status, body } = await upload(app, officer, registryCsv([registryRow()]));
    expect(status).toBe(202);
    await reached;
    await app.stop();
    release();
    const ended = () => app.log.entries.filter((entry) => entry.importJobId === body.jobId);
    for (let i = 0; i < 200 && !ended().length; i++) await new Promise((r) => setTimeout(r, 25));
    expect(ended()).toEqual([expect.objectContaining({
      level: 'warn',
      msg: 'resident import: the server stopped before the job\'s end was recorded; the job reads as FAILED within 20 s, and is recorded so at the next start or before the municipality\'s next import',
    })]);
    expect(app.log.at('error')).toEqual([]);
    expect(app.log.text.join('\n')).not.toMatch(/TypeError/);
    // Its transaction went with its connection; its row is left for the next start to record.
    const [job] = await t.db.query('SELECT status FROM import_job WHERE municipality_code = $1 AND id = $2', [code, body.jobId]);
    expect(job).toEqual({ status: 'RUNNING' });
    expect(await residentRows(t, code)).toEqual([]);
  });

  it('writes nothing when the operator stops imports while the file is arriving', async () => {
    const { code, officer } = await t.tenant();
    const { running, release } = await uploadHalf(officer, registryCsv(Array.from({ length: 50 }, () => registryRow())));
    const operator = await t.session(Role.OPERATOR, Channel.LGWAN);
    expect((await operator.gql(SUSPEND, { f: 'IMPORT', m: code, r: 'wrong files sent' })).data.suspendFunction.userErrors).toEqual([]);
    try {
      release();
      expect(await finishedJob(officer, running.id)).toMatchObject({
        status: 'FAILED', rowsRead: 50, residentsInserted: 0, failureReason: 'imports were stopped by the system operator while this one ran; nothing was written',
      });
      expect(await residentRows(t, code)).toEqual([]);
    } finally {
      await operator.gql(RESUME, { f: 'IMPORT', m: code });
    }
  });

  it('reports a job whose process died as failed, and records it so before the municipality\'s next import and at start-up', async () => {
    const { code, officer } = await t.tenant();
    const neighbour = await t.tenant();
    // Jobs left RUNNING by a process that died three minutes ago, beside one whose process is alive.
    const job = (municipality: string, heartbeat: string, createdBy: string | null = null) => t.db.query(
      `INSERT INTO import_job (municipality_code, id, kind, mode, status, phase, rows_read, started_at, heartbeat_at, created_by)
       VALUES ($1, gen_random_uuid(), 'RESIDENTS', 'SKIP', 'RUNNING', 'MERGING', 10, now() - interval '5 minutes', ${heartbeat}, $2) RETURNING id::text`,
      [municipality, createdBy],
    ).then((rows: { id: string }[]) => rows[0].id);
    const dead = await job(code, "now() - interval '3 minutes'", officer.accountId);
    const alive = await job(code, 'now()');
    const deadNeighbour = await job(neighbour.code, "now() - interval '3 minutes'");
    const stored = async (id: string) => (await t.db.query('SELECT status, phase, failure_reason, finished_at FROM import_job WHERE id = $1', [id]))[0];
    const reason = 'the import stopped unexpectedly; nothing was written';
    try {
      expect((await officer.gql(IMPORT_JOB, { id: dead })).data.importJob).toMatchObject({ status: 'FAILED', phase: null, failureReason: reason });
      expect((await officer.gql(IMPORT_JOB, { id: alive })).data.importJob).toMatchObject({ status: 'RUNNING', phase: 'MERGING' });

      expect(await importFile(t, officer, registryCsv([registryRow()]))).toMatchObject({ status: 'SUCCEEDED' });
      expect(await stored(dead)).toMatchObject({ status: 'FAILED', phase: null, failure_reason: reason, finished_at: expect.any(Date) });
      expect(await stored(alive)).toMatchObject({ status: 'RUNNING', finished_at: null });

      const restarted = await TestApp.start();
      await restarted.stop();
      expect(await stored(deadNeighbour)).toMatchObject({ status: 'FAILED', phase: null, failure_reason: reason });
      expect(await stored(alive)).toMatchObject({ status: 'RUNNING' });
      // Each failure is in the operation log once, as the job's own end would have put it.
      const logged = async (id: string) => t.db.query(
        `SELECT municipality_code, actor_id, role, channel, outcome FROM audit_event WHERE operation = 'resident.import' AND target_ids = ARRAY[$1]::text[]`, [id]);
      expect(await logged(dead)).toEqual([{ municipality_code: code, actor_id: officer.accountId, role: 'MUNICIPALITY', channel: 'LGWAN', outcome: 'FAILURE' }]);
      expect(await logged(deadNeighbour)).toEqual([{ municipality_code: neighbour.code, actor_id: null, role: null, channel: 'CLI', outcome: 'FAILURE' }]);
      expect(await logged(alive)).toEqual([]);
    } finally {
      await t.db.query(`UPDATE import_job SET status = 'FAILED', finished_at = now() WHERE id = $1`, [alive]);
    }
  });

  it('reports a job whose database session is gone as failed well before two minutes, and records it so before the next import', async () => {
    const { code, officer } = await t.tenant();
    // Two sessions as a running import holds one: one still there, one whose process died (gone with it).
    const sessions = [new Client(process.env.DATABASE_URL), new Client(process.env.DATABASE_URL)];
    const pids: number[] = [];
    for (const session of sessions) {
      await session.connect();
      pids.push((await session.query('SELECT pg_backend_pid() AS pid')).rows[0].pid);
    }
    await sessions[1].end();
    // Both last beat 30 s ago (a live process beats every 10 s): only the session tells them apart.
    // One that beat a second ago is taken for a job that has just failed and is recording why.
    const job = (pid: number, beat = '30 seconds') => t.db.query(
      `INSERT INTO import_job (municipality_code, id, kind, mode, status, phase, rows_read, started_at, heartbeat_at, backend_pid)
       VALUES ($1, gen_random_uuid(), 'RESIDENTS', 'SKIP', 'RUNNING', 'MERGING', 10, now() - interval '1 minute', now() - $3::interval, $2) RETURNING id::text`,
      [code, pid, beat],
    ).then((rows: { id: string }[]) => rows[0].id);
    const [alive, dead, ending] = [await job(pids[0]), await job(pids[1]), await job(pids[1], '1 second')];
    const stored = async (id: string) => (await t.db.query('SELECT status, failure_reason FROM import_job WHERE id = $1', [id]))[0];
    const reason = 'the import stopped unexpectedly; nothing was written';
    try {
      expect((await officer.gql(IMPORT_JOB, { id: dead })).data.importJob).toMatchObject({ status: 'FAILED', phase: null, failureReason: reason });
      expect((await officer.gql(IMPORT_JOB, { id: alive })).data.importJob).toMatchObject({ status: 'RUNNING', phase: 'MERGING' });
      expect((await officer.gql(IMPORT_JOB, { id: ending })).data.importJob).toMatchObject({ status: 'RUNNING', phase: 'MERGING' });
      const listed = (await officer.gql('{ importJobs(first: 5) { id status } }')).data.importJobs;
      expect(listed).toEqual(expect.arrayContaining([{ id: dead, status: 'FAILED' }, { id: alive, status: 'RUNNING' }, { id: ending, status: 'RUNNING' }]));

      expect(await importFile(t, officer, registryCsv([registryRow()]))).toMatchObject({ status: 'SUCCEEDED' });
      expect(await stored(dead)).toEqual({ status: 'FAILED', failure_reason: reason });
      expect(await stored(alive)).toEqual({ status: 'RUNNING', failure_reason: null });
      expect(await stored(ending)).toEqual({ status: 'RUNNING', failure_reason: null });
    } finally {
      await t.db.query(`UPDATE import_job SET status = 'FAILED', finished_at = now() WHERE id = ANY($1)`, [[alive, ending]]);
      await sessions[0].end();
    }
  });

  it('reckons a job\'s heartbeat and its times on the database\'s clock, whatever the clock of the server asked', async () => {
    const { code, officer } = await t.tenant();
    // A job whose process beat 30 s ago (alive, a beat late) and one whose process beat 3 minutes ago (dead).
    const job = (beat: string) => t.db.query(
      `INSERT INTO import_job (municipality_code, id, kind, mode, status, phase, rows_read, started_at, heartbeat_at)
       VALUES ($1, gen_random_uuid(), 'RESIDENTS', 'SKIP', 'RUNNING', 'MERGING', 10, now() - interval '5 minutes', now() - $2::interval) RETURNING id::text`,
      [code, beat],
    ).then((rows: { id: string }[]) => rows[0].id);
    const [late, dead] = [await job('30 seconds'), await job('3 minutes')];
    const status = async (id: string) => (await officer.gql(IMPORT_JOB, { id })).data.importJob.status;
    try {
      // Servers whose clocks run 100 s ahead of the database's and 2 minutes behind it answer as one in step.
      for (const skew of [0, 100_000, -120_000]) {
        expect(await onServerOff(skew, () => status(late))).toBe('RUNNING');
        expect(await onServerOff(skew, () => status(dead))).toBe('FAILED');
        const listed = (await onServerOff(skew, () => officer.gql('{ importJobs(first: 5) { id status } }'))).data.importJobs;
        expect(listed).toEqual(expect.arrayContaining([{ id: late, status: 'RUNNING' }, { id: dead, status: 'FAILED' }]));
      }
    } finally {
      await t.db.query(`UPDATE import_job SET status = 'FAILED', finished_at = now() WHERE id = ANY($1)`, [[late, dead]]);
    }

    // An upload received by a server 100 s ahead was received no later than it started, and lists after one received later.
    const ahead = (await onServerOff(100_000, () => upload(t, officer, registryCsv([registryRow()])))).body.jobId;
    expect(await finishedJob(officer, ahead)).toMatchObject({ status: 'SUCCEEDED' });
    const later = (await importFile(t, officer, registryCsv([registryRow()]))).id;
    const jobs = (await officer.gql('{ importJobs(first: 2) { id createdAt startedAt } }')).data.importJobs;
    expect(jobs.map((j: { id: string }) => j.id)).toEqual([later, ahead]);
    expect(Date.parse(jobs[1].createdAt)).toBeLessThanOrEqual(Date.parse(jobs[1].startedAt));
  });

  it('lets only the owning municipality\'s LG-WAN officer upload, and read the report', async () => {
    const { code, officer } = await t.tenant();
    const csv = registryCsv([registryRow()]);
    const refusals = [
      [await t.session(Role.MUNICIPALITY, Channel.INTERNET, { municipalityCode: code }), 403],
      [await t.session(Role.VACCINATION_SITE, Channel.INTERNET, { municipalityCode: code }), 403],
      [await t.session(Role.PREFECTURE, Channel.LGWAN, { prefectureCode: '13' }), 403],
      [await t.session(Role.NATIONAL, Channel.LGWAN), 403],
      [await t.session(Role.OPERATOR, Channel.LGWAN), 403],
      [null, 401],
    ] as const;
    for (const [session, status] of refusals) {
      const answer = await upload(t, session, csv);
      expect(answer.status).toBe(status);
      expect(answer.body.jobId).toBeUndefined();
    }
    // The officer on the internet channel is told why: the channel, not the role.
    const lgwanOnly = 'Not authorised on the internet channel: My Number, and what carries it (registry imports and their reports), is reached over LG-WAN only';
    expect((await upload(t, refusals[0][0], csv)).body.errors[0].message).toBe(lgwanOnly);
    // So is one asking for the imports in GraphQL.
    const listed = await refusals[0][0]!.gql('{ importJobs(first: 5) { id } }');
    expect(listed.errors!.map((e) => [e.extensions?.code, e.message])).toEqual([['FORBIDDEN', lgwanOnly]]);
    expect((await upload(t, refusals[1][0], csv)).body.errors[0].message).toBe('Not authorised');
    // A token issued on LG-WAN is refused on the internet listener altogether.
    expect((await upload(t, officer, csv, 'mode=ABORT', Channel.INTERNET)).status).toBe(401);
    expect(await residentRows(t, code)).toEqual([]);

    const { body } = await upload(t, officer, csv);
    const neighbour = await t.tenant();
    expect((await neighbour.officer.gql(IMPORT_JOB, { id: body.jobId })).data.importJob).toBeNull();
    expect((await neighbour.officer.gql('{ importJobs { id } }')).data.importJobs).toEqual([]);
    expect((await finishedJob(officer, body.jobId)).status).toBe('SUCCEEDED');
    expect((await upload(t, officer, csv, 'mode=MAYBE')).status).toBe(400);
    // A parameter misspelt, doubled or empty is refused rather than left to its default.
    for (const query of ['mode=SKIP&mode=ABORT', 'mod=SKIP', 'mode=']) {
      const answer = await upload(t, officer, csv, query);
      expect([answer.status, answer.body.errors[0].extensions.field]).toEqual([400, [query.startsWith('mod=') ? 'mod' : 'mode']]);
    }
    expect(await residentRows(t, code)).toHaveLength(1);
  });

  it('answers the job at the address the upload gives, and its whole rejection report as CSV, to the owning officer only', async () => {
    const { officer } = await t.tenant();
    const rows = [registryRow(), registryRow({ sex: '9', birth: 'someday' }), registryRow({ family: '' })];
    const answer = await upload(t, officer, registryCsv(rows), 'mode=SKIP');
    expect(answer.status).toBe(202);
    // Answered once the file is read: its rows are counted, with the rejections found so far.
    expect(answer.body).toMatchObject({ rowsRead: 3, rowsRejected: 2 });
    expect(answer.body.phase === 'CHECKING' || answer.body.phase === 'MERGING' || answer.body.status === 'SUCCEEDED').toBe(true);
    const job = await finishedJob(officer, answer.body.jobId);
    const get = async (session: Session | null, path: string, channel = Channel.LGWAN) => {
      const response = await fetch(`${baseUrl(t, channel)}${path}`, { headers: session ? { authorization: `Bearer ${session.token}` } : {} });
      return { status: response.status, type: response.headers.get('content-type'), bytes: Buffer.from(await response.arrayBuffer()) };
    };
    const state = await get(officer, answer.location!);
    expect([state.status, JSON.parse(state.bytes.toString())]).toEqual([200, {
      jobId: job.id, status: 'SUCCEEDED', phase: null, rowsRead: 3, rowsAccepted: 1, rowsRejected: 2,
      residentsInserted: 1, residentsUpdated: 0, ticketsInserted: 1, ticketsUpdated: 0, failureReason: null, rejectionReportComplete: true,
    }]);
    const report = await get(officer, `${answer.location}/rejections.csv`);
    expect(report.type).toBe('text/csv; charset=utf-8');
    expect(report.bytes.toString()).toBe([
      '\ufeffline,column,field,code,message',
      '3,生年月日,birthDate,INVALID_DATE,"must be a real date (YYYY-MM-DD, 令和3年4月1日 or R3.4.1)"',
      '3,性別,sex,INVALID_FORMAT,"unknown sex code; use 1/2, 男/女, M/F or MALE/FEMALE"',
      '4,氏,familyName,REQUIRED,is required',
      '',
    ].join('\n'));
    const sjis = await get(officer, `${answer.location}/rejections.csv?encoding=sjis`);
    expect(iconv.decode(sjis.bytes, 'cp932')).toBe(report.bytes.toString().slice(1));

    // Another municipality's officer, a made-up id and a malformed one read alike; other roles and channels do not read at all.
    const neighbour = await t.tenant();
    const missing = [`/imports/residents/${job.id}`, `/imports/residents/${job.id}/rejections.csv`, '/imports/residents/00000000-0000-4000-8000-000000000000', '/imports/residents/x/rejections.csv'];
    for (const path of missing) {
      const other = await get(neighbour.officer, path);
      expect([other.status, JSON.parse(other.bytes.toString())]).toEqual([404, { errors: [{ message: 'not found or no access', extensions: { code: 'NOT_FOUND' } }] }]);
    }
    const site = await t.session(Role.VACCINATION_SITE, Channel.INTERNET, { municipalityCode: officer.municipalityCode! });
    // A role that reads no import at all is refused outright, as GraphQL refuses it.
    expect((await get(site, `/imports/residents/${job.id}/rejections.csv`, Channel.INTERNET)).status).toBe(403);
    const internetOfficer = await t.session(Role.MUNICIPALITY, Channel.INTERNET, { municipalityCode: officer.municipalityCode! });
    const byChannel = await get(internetOfficer, `/imports/residents/${job.id}/rejections.csv`, Channel.INTERNET);
    expect([byChannel.status, JSON.parse(byChannel.bytes.toString()).errors[0].message]).toEqual([403, expect.stringMatching(/LG-WAN only$/)]);
    expect((await get(null, `/imports/residents/${job.id}/rejections.csv`)).status).toBe(401);
    expect((await get(officer, `/imports/residents/${job.id}/rejections.csv?encoding=latin1`)).status).toBe(400);
    const empty = await get(officer, `/imports/residents/${job.id}/rejections.csv?encoding=`);
    expect([empty.status, JSON.parse(empty.bytes.toString()).errors.map((e: any) => e.message)]).toEqual([400, ['encoding: must not be empty; leave the parameter out instead']]);
    const other = await get(officer, `/imports/residents/${job.id}/other`);
    expect([other.status, JSON.parse(other.bytes.toString())]).toEqual([404, {
      errors: [{ message: 'Not found: a job answers at /imports/residents/{id}, its report at /imports/residents/{id}/rejections.csv', extensions: { code: 'NOT_FOUND' } }],
    }]);
    // The job's state takes no parameter: one given is named, as on the report's address.
    for (const value of ['utf8', 'latin1']) {
      const parameter = await get(officer, `/imports/residents/${job.id}?encoding=${value}`);
      expect([parameter.status, JSON.parse(parameter.bytes.toString())]).toEqual([400, {
        errors: [{ message: 'encoding: is not a parameter here: this address takes none', extensions: { code: 'BAD_USER_INPUT', field: ['encoding'], reason: 'INVALID_FORMAT' } }],
      }]);
    }
  });

  it('answers a database fault while reading a job with a logged 500, not a refusal counted against the officer', async () => {
    const { officer } = await t.tenant();
    const job = await importFile(t, officer, registryCsv([registryRow()]));
    const imports = t.app.services.imports;
    const get = imports.get;
    // The job's read fails as it does when the database's disk is full (a lost connection is DATABASE_UNAVAILABLE instead).
    imports.get = () => Promise.reject(Object.assign(new Error('could not extend file "base/16384/16397": No space left on device'), { code: '53100' }));
    try {
      for (const path of [`/imports/residents/${job.id}`, `/imports/residents/${job.id}/rejections.csv`]) {
        const response = await fetch(`${baseUrl(t, Channel.LGWAN)}${path}`, { headers: { authorization: `Bearer ${officer.token}` } });
        expect([response.status, await response.json()]).toEqual([500, { errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] }]);
      }
      // Each line names the request by its method and path.
      expect(t.log.at('error').filter((e) => e.municipalityCode === officer.municipalityCode).map((e) => [e.msg, e.operation, e.err.message])).toEqual([
        ['http handler failed', `GET /imports/residents/${job.id}`, 'could not extend file "base/16384/16397": No space left on device'],
        ['http handler failed', `GET /imports/residents/${job.id}/rejections.csv`, 'could not extend file "base/16384/16397": No space left on device'],
      ]);
    } finally {
      imports.get = get;
    }
    expect(await t.db.query('SELECT events FROM detection_window WHERE key = $1', [`denied:${officer.accountId}`])).toEqual([]);
  });

  it('runs one upload per municipality at a time: a second waits its turn, another municipality does not', async () => {
    const { officer } = await t.tenant();
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const csv = Buffer.from(registryCsv([registryRow(), registryRow()]));
    const body = new ReadableStream({
      async start(controller) {
        controller.enqueue(new Uint8Array(csv.subarray(0, 40)));
        await gate;
        controller.enqueue(new Uint8Array(csv.subarray(40)));
        controller.close();
      },
    });
    const first = fetch(`${baseUrl(t, Channel.LGWAN)}/imports/residents`, {
      method: 'POST', body, duplex: 'half', headers: { authorization: `Bearer ${officer.token}` },
    } as RequestInit);
    try {
      // The job is written QUEUED, then marked RUNNING as it starts reading: waited for both.
      for (let i = 0; i < 200 && (await officer.gql('{ importJobs(first: 1) { status } }')).data.importJobs[0]?.status !== 'RUNNING'; i++) await new Promise((r) => setTimeout(r, 25));
      const second = await upload(t, officer, registryCsv([registryRow()]));
      expect([second.status, second.body.errors[0].extensions.code, second.body.errors[0].message])
        .toEqual([429, 'RATE_LIMITED', 'an import of this municipality is already running; wait for it to finish']);
      // While it runs, its report is not complete, and is not handed out as if it were.
      const [running] = (await officer.gql('{ importJobs(first: 1) { id status rejections { complete } } }')).data.importJobs;
      expect([running.status, running.rejections.complete]).toEqual(['RUNNING', false]);
      const early = await fetch(`${baseUrl(t, Channel.LGWAN)}/imports/residents/${running.id}/rejections.csv`, { headers: { authorization: `Bearer ${officer.token}` } });
      expect([early.status, ((await early.json()) as any).errors[0].extensions.code]).toEqual([409, 'INVALID_STATE']);
      expect((await importFile(t, (await t.tenant()).officer, registryCsv([registryRow()]))).status).toBe('SUCCEEDED');
    } finally {
      release();
    }
    const done = await finishedJob(officer, ((await (await first).json()) as any).jobId);
    expect(done).toMatchObject({ status: 'SUCCEEDED', residentsInserted: 2 });
    expect((await importFile(t, officer, registryCsv([registryRow()]))).status).toBe('SUCCEEDED');
  });

  it('rolls back an import whose job was taken for stopped while it ran, and keeps the job failed', async () => {
    const { code, officer } = await t.tenant();
    // Its heartbeat stalled past the limit, and the municipality's next import recorded it as stopped.
    t.app.services.imports.faultAfterResidentMerge = async (job) => {
      if (job.municipalityCode !== code) return;
      // A progress write still in flight may renew the heartbeat: until the job reads stopped.
      for (let i = 0; i < 40; i++) {
        await t.db.query(`UPDATE import_job SET heartbeat_at = now() - interval '3 minutes' WHERE municipality_code = $1 AND id = $2`, [code, job.id]);
        await t.app.services.imports.failStale(code);
        const [{ status }] = await t.db.query('SELECT status FROM import_job WHERE municipality_code = $1 AND id = $2', [code, job.id]);
        if (status === 'FAILED') return;
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
    };
    let id = '';
    try {
      // It reads FAILED as soon as it is recorded as stopped, and gets its real reason once the import has rolled back.
      id = (await importFile(t, officer, registryCsv([registryRow()]))).id;
      let job: any;
      for (let i = 0; i < 200 && job?.failureReason !== 'the import was taken for stopped while it ran; nothing was written, run the import again'; i++) {
        await new Promise((resolve) => setTimeout(resolve, 25));
        job = (await officer.gql(IMPORT_JOB, { id })).data.importJob;
      }
      expect(job).toMatchObject({
        status: 'FAILED', residentsInserted: 0, failureReason: 'the import was taken for stopped while it ran; nothing was written, run the import again',
      });
    } finally {
      t.app.services.imports.faultAfterResidentMerge = null;
    }
    expect(await residentRows(t, code)).toEqual([]);
    // One failure line for the job: the stopped one's, not a second when the import itself ended.
    const logged = await t.db.query(`SELECT outcome FROM audit_event WHERE operation = 'resident.import' AND target_ids = ARRAY[$1]::text[]`, [id]);
    expect(logged).toEqual([{ outcome: 'FAILURE' }]);
  });

  it('keeps the rejection reports of the municipality\'s ten latest imports, and their counts for ever', async () => {
    const { officer } = await t.tenant();
    const jobs = [];
    for (let i = 0; i < 12; i++) jobs.push(await importFile(t, officer, registryCsv([registryRow({ sex: '9' })]), 'mode=SKIP'));
    const reports = await Promise.all(jobs.map(async (job) => ({ rowsRejected: (await finishedJob(officer, job.id)).rowsRejected, ...(await rejectedLines(officer, job.id)) })));
    for (const report of reports.slice(0, 2)) expect(report).toEqual({ rowsRejected: 1, lines: [], complete: false });
    for (const report of reports.slice(2)) expect(report).toEqual({ rowsRejected: 1, lines: [2], complete: true });
    // An import that rejects nothing lets no report go.
    await importFile(t, officer, registryCsv([registryRow()]));
    expect(await rejectedLines(officer, jobs[2].id)).toEqual({ lines: [2], complete: true });
    // The download does not pass a missing report off as an empty one.
    const gone = await fetch(`${baseUrl(t, Channel.LGWAN)}/imports/residents/${jobs[0].id}/rejections.csv`, { headers: { authorization: `Bearer ${officer.token}` } });
    expect([gone.status, ((await gone.json()) as any).errors[0].extensions.code]).toEqual([410, 'GONE']);
  });

  it('refuses a rejection cursor it did not hand out', async () => {
    const { officer } = await t.tenant();
    const job = await importFile(t, officer, registryCsv([registryRow(), registryRow({ sex: '9' })]), 'mode=SKIP');
    const page = (after: string) => officer.gql('query($id: ID!, $after: String) { importJob(id: $id) { rejections(first: 100, after: $after) { nodes { line } } } }', { id: job.id, after });
    for (const after of ['3000000000', '-1', '1.5', 'x', '']) expect((await page(after)).errors?.map((e: any) => e.extensions.code)).toEqual(['BAD_USER_INPUT']);
    // The last position a report can have is a cursor like any other: after it, nothing.
    expect(await page('2147483647')).toEqual({ data: { importJob: { rejections: { nodes: [] } } } });
  });

  it('imports every row of a file whose line ends mix CRLF and bare LF, numbering lines right', async () => {
    const { code, officer } = await t.tenant();
    const rows = Array.from({ length: 6 }, () => registryRow());
    rows[5].sex = '9';
    const [header, ...lines] = registryCsv(rows, [...JAPANESE_HEADER, '備考']).split('\r\n');
    // A Windows extract (CRLF) with rows pasted in from a Unix-made part (LF), one of them with a
    // note over two lines: the rejected row starts on line 8.
    const file = `${header}\r\n${lines[0]},\r\n${lines[1]},"複数行の\r\n備考"\n${lines[2]}\n${lines[3]},メモ\n${lines[4]}\n${lines[5]}\r\n`;
    for (const mode of ['ABORT', 'SKIP']) {
      const job = await importFile(t, officer, file, `mode=${mode}`);
      expect(job).toMatchObject({ status: mode === 'SKIP' ? 'SUCCEEDED' : 'FAILED', rowsRead: 6, rowsAccepted: 5, rowsRejected: 1 });
      expect(job.rejections.nodes).toEqual([expect.objectContaining({ line: 8, field: 'sex', code: 'INVALID_FORMAT' })]);
    }
    expect((await residentRows(t, code)).map((r) => r.addressee_number).sort()).toEqual(rows.slice(0, 5).map((r) => r.addressee).sort());

    // A CRLF header and nothing but LF rows after it.
    const lf = registryCsv([registryRow(), registryRow(), registryRow(), registryRow(), registryRow()]).replace(/(?<=\r\n[^]*)\r\n/g, '\n');
    expect(lf.match(/\r\n/g)).toHaveLength(1);
    expect(await importFile(t, officer, lf)).toMatchObject({ status: 'SUCCEEDED', rowsRead: 5, residentsInserted: 5 });
  });

  it('numbers the lines of a classic Mac file (CR alone) as an editor shows them, past a note over two lines', async () => {
    const { officer } = await t.tenant();
    const rows = [registryRow(), registryRow(), registryRow({ sex: '9' })];
    const [header, ...lines] = registryCsv(rows, [...JAPANESE_HEADER, '備考']).split('\r\n');
    // The note of line 2 goes on to line 3: the rejected row is on line 5.
    const file = `${header}\r${lines[0]},"複数行の\r備考"\r${lines[1]}\r${lines[2]}\r`;
    const job = await importFile(t, officer, file, 'mode=SKIP');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsRead: 3, rowsAccepted: 2, rowsRejected: 1 });
    expect(job.rejections.nodes).toEqual([expect.objectContaining({ line: 5, field: 'sex', code: 'INVALID_FORMAT' })]);
  });

  it('rejects a row with values beyond the header\'s columns, and takes the empty fields spreadsheets pad rows with', async () => {
    const { code, officer } = await t.tenant();
    const rows = [registryRow(), registryRow(), registryRow()];
    const [header, a, b, c] = registryCsv(rows).split('\r\n');
    const file = [header, `${a},,`, `${b},丸の内,1-1`, `${c},, ,`, ''].join('\r\n');
    const aborted = await importFile(t, officer, file);
    expect(aborted).toMatchObject({ status: 'FAILED', rowsRead: 3, rowsRejected: 1, residentsInserted: 0 });
    const job = await importFile(t, officer, file, 'mode=SKIP');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsRead: 3, rowsAccepted: 2, rowsRejected: 1, residentsInserted: 2 });
    expect(job.rejections.nodes).toEqual([{ line: 3, column: '', field: '', code: 'INVALID_FORMAT', message: 'has 13 fields; the header has 11' }]);
    expect((await residentRows(t, code)).map((r) => r.addressee_number).sort()).toEqual([rows[0].addressee, rows[2].addressee].sort());
  });

  it('takes stray quotes inside plain fields literally, in stored and in ignored columns', async () => {
    const { code, officer } = await t.tenant();
    const rows = [registryRow({ given: 'GIVEN' }), registryRow(), registryRow({ sex: '9' })];
    const [header, ...lines] = registryCsv(rows, [...JAPANESE_HEADER, '住所']).split('\r\n');
    const file = [header, `${lines[0].replace('GIVEN', '太郎 "タロ"')},丸の内 "ABCビル" 3F`, `${lines[1]},丸の内 "ABC`, `${lines[2]},x"`, ''].join('\r\n');
    const job = await importFile(t, officer, file, 'mode=SKIP');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsRead: 3, rowsAccepted: 2, rowsRejected: 1 });
    expect(job.rejections.nodes).toEqual([expect.objectContaining({ line: 4, field: 'sex' })]);
    const stored = await residentRows(t, code);
    expect(stored.map((r) => [r.addressee_number, r.given_name])).toEqual([[rows[0].addressee, '太郎 "タロ"'], [rows[1].addressee, '太郎']].sort());
  });
});
