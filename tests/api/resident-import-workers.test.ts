import 'reflect-metadata';
import { RecordCutter } from '../../src/services/resident-import.chunk';
import { importFile, JAPANESE_HEADER, registryCsv, registryRow, residentRows, ticketRows } from '../helpers/registry-csv';
import { TestApp } from '../helpers/test-app';

let t: TestApp;
beforeAll(async () => {
  t = await TestApp.start();
  // Every chunk after the header goes through the worker threads, as in a large file.
  t.app.services.imports.workerThresholdBytes = 0;
});
afterAll(() => t.stop());

const MY_NUMBER = 'query($id: ID!) { resident(id: $id) { addresseeNumber myNumber } }';

describe('resident registry import on worker threads', () => {
  it('stages a file of many chunks in worker threads: rejections by line in file order, quoted line breaks counted, My Number readable', async () => {
    const { code, officer } = await t.tenant();
    const rows = Array.from({ length: 3000 }, () => registryRow());
    rows[999].family = '山\n田'; // a quoted line break (refused in a name): every later record starts one line further down
    rows[1499].sex = '9';
    rows[2999].birth = 'R3.2.29';
    const csv = registryCsv(rows);
    expect(csv.length).toBeGreaterThan(200_000);

    const job = await importFile(t, officer, csv, 'mode=SKIP');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsRead: 3000, rowsAccepted: 2997, rowsRejected: 3, residentsInserted: 2997, ticketsInserted: 2997 });
    expect(job.rejections.nodes.map((r: any) => [r.line, r.field])).toEqual([[1001, 'familyName'], [1502, 'sex'], [3002, 'birthDate']]);

    const stored = await residentRows(t, code);
    expect(stored).toHaveLength(2997);
    // The operation log names each of them once, a thousand at most to an event.
    const logged: { target_ids: string[] }[] = await t.db.query(
      `SELECT target_ids FROM audit_event WHERE municipality_code = $1 AND operation = 'resident.import.create'`, [code]);
    expect(logged.map((e) => e.target_ids.length - 1).sort((a, b) => a - b)).toEqual([997, 1000, 1000]);
    expect(new Set(logged.flatMap((e) => e.target_ids.slice(1)))).toEqual(new Set(stored.map((r) => r.id)));
    const last = stored.find((r) => r.addressee_number === rows[2998].addressee);
    expect((await officer.gql(MY_NUMBER, { id: last.id })).data.resident).toEqual({ addresseeNumber: rows[2998].addressee, myNumber: rows[2998].myNumber });
    // The look-up hash the workers wrote is the one the API looks up by, and keeps numbers unique.
    const LOOKUP = 'query($n: String!) { residentByMyNumber(myNumber: $n) { id } }';
    expect((await officer.gql(LOOKUP, { n: rows[2998].myNumber })).data.residentByMyNumber).toEqual({ id: last.id });
    const REGISTER = 'mutation($input: RegisterResidentInput!) { registerResident(input: $input) { userErrors { field code } } }';
    const twin = { addresseeNumber: 'TWIN-1', myNumber: rows[2998].myNumber, familyName: '山田', givenName: '花子', familyNameKana: 'ヤマダ', givenNameKana: 'ハナコ', birthDate: '1980-04-01', sex: 'FEMALE' };
    expect((await officer.gql(REGISTER, { input: twin })).data.registerResident.userErrors).toEqual([{ field: ['input', 'myNumber'], code: 'DUPLICATE' }]);

    const again = await importFile(t, officer, csv, 'mode=SKIP');
    expect(again).toMatchObject({ status: 'SUCCEEDED', residentsInserted: 0, residentsUpdated: 0, ticketsInserted: 0 });
    expect(await residentRows(t, code)).toEqual(stored);
  });

  it('tells, in worker threads too, a code no municipality has from another municipality\'s', async () => {
    const { officer } = await t.tenant();
    const rows = Array.from({ length: 3000 }, () => registryRow());
    rows[1999].municipality = '11002';
    rows[2499].municipality = '011002';
    const job = await importFile(t, officer, registryCsv(rows), 'mode=SKIP');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsAccepted: 2998, rowsRejected: 2 });
    expect(job.rejections.nodes.map((r: any) => [r.line, r.code])).toEqual([[2001, 'UNKNOWN_MUNICIPALITY'], [2501, 'OTHER_MUNICIPALITY']]);
  });

  it('rolls the whole import back when a worker fails mid-file', async () => {
    const { code, officer } = await t.tenant();
    const rows = Array.from({ length: 3000 }, () => registryRow());
    t.app.services.imports.faultInWorkerAtLine = 2000;
    try {
      const job = await importFile(t, officer, registryCsv(rows), 'mode=SKIP');
      expect(job).toMatchObject({ status: 'FAILED', failureReason: 'the import failed unexpectedly; nothing was written', residentsInserted: 0 });
    } finally {
      t.app.services.imports.faultInWorkerAtLine = null;
    }
    expect(await residentRows(t, code)).toEqual([]);
    expect(await ticketRows(t, code)).toEqual([]);
    const [{ count }] = await t.db.query(`SELECT count(*)::int AS count FROM pg_class WHERE relname LIKE 'import_staging_%'`);
    expect(count).toBe(0);
  });

  it('fails with the CSV error and its line when a worker meets invalid CSV', async () => {
    const { code, officer } = await t.tenant();
    const rows = Array.from({ length: 3000 }, () => registryRow());
    rows[2499].family = 'x"y';
    const csv = registryCsv(rows).replace('"x""y"', '"x"y');
    const job = await importFile(t, officer, csv, 'mode=SKIP');
    expect(job.status).toBe('FAILED');
    expect(job.failureReason).toMatch(/^line 2501: the file is not valid CSV \(CSV_INVALID_CLOSING_QUOTE\)/);
    expect(await residentRows(t, code)).toEqual([]);
  });

  it('reads mixed CRLF and LF line ends, stray quotes and padded rows in worker threads, and rejects misaligned rows by line', async () => {
    const { code, officer } = await t.tenant();
    const rows = Array.from({ length: 3000 }, () => registryRow());
    rows[2799].sex = '9';
    const [header, ...lines] = registryCsv(rows, [...JAPANESE_HEADER, '住所']).split('\r\n');
    // From row 1000 on, rows pasted from a Unix-made file end in bare LF; a stray quote or two in
    // an address, a note over two lines, padding, and one row with a value beyond the header.
    const body = rows.map((_, i) => {
      const address = i % 7 === 0 ? ',丸の内 "ABCビル" 3F' : i % 11 === 0 ? ',5"' : i === 1499 ? ',"二行の\n住所"' : i % 13 === 0 ? ',,,' : '';
      const extra = i === 1999 ? ',,x' : '';
      return lines[i] + address + extra + (i >= 1000 && i % 3 !== 0 ? '\n' : '\r\n');
    });
    const job = await importFile(t, officer, `${header}\r\n${body.join('')}`, 'mode=SKIP');
    expect(job).toMatchObject({ status: 'SUCCEEDED', rowsRead: 3000, rowsAccepted: 2998, rowsRejected: 2, residentsInserted: 2998 });
    // Row i starts on line i + 2, and one line further down past the two-line address.
    expect(job.rejections.nodes.map((r: any) => [r.line, r.field, r.message])).toEqual([
      [2002, '', 'has 13 fields; the header has 12'],
      [2802, 'sex', 'unknown sex code; use 1/2, 男/女, M/F or MALE/FEMALE'],
    ]);
    expect(await residentRows(t, code)).toHaveLength(2998);
  });
});

describe('RecordCutter', () => {
  const cut = (parts: string[]) => {
    const cutter = new RecordCutter();
    const chunks = parts.map((p) => cutter.push(Buffer.from(p)));
    chunks.push(cutter.finish());
    return { end: cutter.end, chunks: chunks.filter((c) => c).map((c) => [Buffer.from(c!.text).toString(), c!.firstLine]) };
  };

  it('cuts only at record ends outside quotes, numbering lines as the parser does', () => {
    expect(cut(['\ufeffa,b\r\n1,"x\r\ny"\r', '\n2,z\r\n3'])).toEqual({ end: '\r\n', chunks: [['a,b\r\n', 1], ['1,"x\r\ny"\r\n2,z\r\n', 2], ['3', 5]] });
    // A bare line feed ends a record in a \r\n file too.
    expect(cut(['a\r\nb\nc,d\r\ne'])).toEqual({ end: '\r\n', chunks: [['a\r\nb\nc,d\r\n', 1], ['e', 4]] });
    expect(cut(['a\rb\r', 'c'])).toEqual({ end: '\r', chunks: [['a\rb\r', 1], ['c', 3]] });
  });
});
