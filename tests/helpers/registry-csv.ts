import { randomInt } from 'node:crypto';
import { Channel } from '../../src/schema/enums';
import { myNumberCheckDigit } from '../../src/validation/identifiers';
import { Session, TestApp } from './test-app';

/** A valid My Number that no other test is likely to draw. */
export function randomMyNumber(): string {
  const body = String(randomInt(1e10, 1e11)).padStart(11, '0');
  return body + myNumberCheckDigit(body);
}

export interface RegistryRow {
  addressee: string;
  myNumber: string;
  family: string;
  given: string;
  familyKana: string;
  givenKana: string;
  birth: string;
  sex: string;
  ticket?: string;
  series?: string;
  municipality?: string;
}

export const JAPANESE_HEADER = ['宛名番号', '個人番号', '氏', '名', '氏カナ', '名カナ', '生年月日', '性別', '接種券番号', '券種', '自治体コード'];

let serial = 0;

/** A good registry row with unique identifiers. */
export function registryRow(overrides: Partial<RegistryRow> = {}): RegistryRow {
  // Unique within this process (a tenant's rows are all made by one).
  const n = `${process.pid}${String(++serial).padStart(6, '0')}`;
  return {
    addressee: `R${n}`.slice(0, 20),
    myNumber: randomMyNumber(),
    family: '山田',
    given: '太郎',
    familyKana: 'ヤマダ',
    givenKana: 'タロウ',
    birth: '1970-01-02',
    sex: '1',
    ticket: String(randomInt(1e9, 1e10)),
    series: '1-2',
    ...overrides,
  };
}

const quote = (v: string) => (/[",\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);

export function registryCsv(rows: RegistryRow[], header = JAPANESE_HEADER): string {
  const lines = rows.map((r) =>
    [r.addressee, r.myNumber, r.family, r.given, r.familyKana, r.givenKana, r.birth, r.sex, r.ticket ?? '', r.series ?? '', r.municipality ?? ''].map(quote).join(','),
  );
  return [header.join(','), ...lines].join('\r\n') + '\r\n';
}

export const baseUrl = (t: TestApp, channel: Channel) => t.url(channel).replace(/\/graphql$/, '');

/** Uploads a file to the import endpoint with the session's token, on the session's channel. */
export async function upload(t: TestApp, session: Session | null, body: string | Buffer, query = 'mode=ABORT', channel = session?.channel ?? Channel.LGWAN) {
  const response = await fetch(`${baseUrl(t, channel)}/imports/residents?${query}`, {
    method: 'POST',
    headers: { 'content-type': 'text/csv', ...(session ? { authorization: `Bearer ${session.token}` } : {}) },
    body,
  });
  return { status: response.status, location: response.headers.get('location'), body: (await response.json()) as any };
}

export const IMPORT_JOB = `query($id: ID!) { importJob(id: $id) {
  id status phase mode encoding rowsRead rowsAccepted rowsRejected residentsInserted residentsUpdated ticketsInserted ticketsUpdated failureReason progress
  rejections(first: 100) { nodes { line column field code message } hasNextPage complete }
} }`;

/** Polls importJob until the job has ended. */
export async function finishedJob(session: Session, id: string): Promise<any> {
  for (let i = 0; i < 600; i++) {
    const result = await session.gql(IMPORT_JOB, { id });
    const job = result.data?.importJob;
    if (!job) throw new Error(`importJob: ${JSON.stringify(result.errors)}`);
    if (job.status === 'SUCCEEDED' || job.status === 'FAILED') return job;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('import did not finish');
}

/** Uploads and waits for the job's end. */
export async function importFile(t: TestApp, session: Session, body: string | Buffer, query = 'mode=ABORT'): Promise<any> {
  const { status, body: json } = await upload(t, session, body, query);
  if (status !== 202) throw new Error(`upload refused: ${status} ${JSON.stringify(json)}`);
  return finishedJob(session, json.jobId);
}

/** Residents of a tenant as stored, for before/after comparisons. */
export async function residentRows(t: TestApp, code: string): Promise<any[]> {
  return t.db.query(
    `SELECT id, addressee_number, encode(my_number_hmac, 'hex') AS hmac, encode(my_number_cipher, 'hex') AS cipher, family_name, given_name,
       family_name_kana, given_name_kana, birth_date::text, sex, status, created_at, updated_at
     FROM resident WHERE municipality_code = $1 ORDER BY addressee_number`,
    [code],
  );
}

export async function ticketRows(t: TestApp, code: string): Promise<any[]> {
  return t.db.query(
    `SELECT t.ticket_number, t.series, r.addressee_number FROM ticket t JOIN resident r ON r.municipality_code = t.municipality_code AND r.id = t.resident_id
     WHERE t.municipality_code = $1 ORDER BY t.ticket_number`,
    [code],
  );
}
