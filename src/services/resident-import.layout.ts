import type { TenantKeys } from '../crypto/tenant-keys';
import { ErrorCode, identifierError } from '../errors';
import { parseRegistryDate } from '../validation/era-dates';
import { EARLIEST_BIRTH } from '../validation/dates';
import { checkAddresseeNumber, checkMunicipalityCode, checkMyNumber, KATAKANA, municipalityCheckDigit, charCount, NAME_MAX, nameCharactersProblem, normaliseDigits, normaliseKana } from '../validation/identifiers';
import { ownMunicipalityCodes } from '../validation/own-codes';
import { checkIssuedSeries, checkTicketNumber } from '../validation/tickets';

/**
 * The resident registry CSV layout (README "Resident registry import"): a header row naming the
 * columns, in any order, in English or Japanese. Unknown columns (addresses, households …) are
 * ignored so that registry extracts can be uploaded as they are.
 */
export const COLUMNS = {
  addresseeNumber: { required: true, names: ['addressee_number', '宛名番号', '宛名コード'] },
  myNumber: { required: true, names: ['my_number', '個人番号', 'マイナンバー'] },
  familyName: { required: true, names: ['family_name', '氏', '氏名(氏)', '姓'] },
  givenName: { required: true, names: ['given_name', '名', '氏名(名)'] },
  familyNameKana: { required: true, names: ['family_name_kana', '氏カナ', 'カナ氏', '氏(カナ)', 'セイ'] },
  givenNameKana: { required: true, names: ['given_name_kana', '名カナ', 'カナ名', '名(カナ)', 'メイ'] },
  birthDate: { required: true, names: ['birth_date', '生年月日'] },
  sex: { required: true, names: ['sex', '性別'] },
  ticketNumber: { required: false, names: ['ticket_number', '接種券番号', '券番号'] },
  series: { required: false, names: ['series', 'ticket_series', '券種', 'シリーズ'] },
  municipalityCode: { required: false, names: ['municipality_code', '自治体コード', '市区町村コード', '団体コード'] },
} as const;

export type ColumnName = keyof typeof COLUMNS;

/** Where each known column sits in the file, and its header as the file spells it. */
export interface Layout {
  index: Partial<Record<ColumnName, number>>;
  header: Partial<Record<ColumnName, string>>;
  /** Fields in the header row: a row with a value beyond them is misaligned. */
  fields: number;
}

const headerKey = (name: string) => name.normalize('NFKC').replace(/\s+/g, '').toLowerCase();
const LOOKUP = new Map<string, ColumnName>(
  (Object.keys(COLUMNS) as ColumnName[]).flatMap((column) => COLUMNS[column].names.map((n) => [headerKey(n), column] as const)),
);

export class LayoutError extends Error {}

/** A column as the README's layout names it, e.g. `given_name (名)`. */
const spelled = (column: ColumnName) => `${COLUMNS[column].names[0]} (${COLUMNS[column].names[1]})`;

export function resolveLayout(header: string[]): Layout {
  const layout: Layout = { index: {}, header: {}, fields: header.length };
  header.forEach((raw, i) => {
    const column = LOOKUP.get(headerKey(raw));
    if (!column) return;
    if (layout.index[column] !== undefined) throw new LayoutError(`the header names the ${spelled(column)} column twice ("${layout.header[column]}" and "${raw.trim()}")`);
    layout.index[column] = i;
    layout.header[column] = raw.trim();
  });
  const missing = (Object.keys(COLUMNS) as ColumnName[]).filter((c) => COLUMNS[c].required && layout.index[c] === undefined);
  if (missing.length > 0) {
    throw new LayoutError(`the header row lacks required columns: ${missing.map(spelled).join(', ')} (see the column layout in README; is the encoding right?)`);
  }
  return layout;
}

export interface RowProblem {
  field: ColumnName | '';
  code: ErrorCode;
  message: string;
}

/** A Map: an object would also answer for `constructor` or `__proto__`. */
const SEX = new Map<string, 'MALE' | 'FEMALE'>(Object.entries({
  '1': 'MALE', 男: 'MALE', 男性: 'MALE', m: 'MALE', male: 'MALE',
  '2': 'FEMALE', 女: 'FEMALE', 女性: 'FEMALE', f: 'FEMALE', female: 'FEMALE',
}));
const NEEDS_ESCAPE = /[\\\t\n\r]/;
/** A date followed by a time (1970/1/1 12:00): only midnight, as spreadsheets render a date cell, is read as a date. */
const WITH_TIME = /^(.*\S)\s+\d{1,2}:\d{2}(?::\d{2})?$/;

/** PostgreSQL COPY text format: backslash, tab and line breaks escaped. */
function text(value: string): string {
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(/[\\\t\n\r]/g, (c) => (c === '\\' ? '\\\\' : c === '\t' ? '\\t' : c === '\n' ? '\\n' : '\\r'));
}

/** Staging columns, in the order `stageRow` writes them. */
export const STAGING_COLUMNS = [
  'line', 'addressee_number', 'my_number_cipher', 'my_number_hmac', 'family_name', 'given_name', 'family_name_kana',
  'given_name_kana', 'birth_date', 'sex', 'ticket_number', 'series', 'problems',
] as const;

/**
 * A rejected row's staging line: its line, its problems (JSON), and of its values only the keys
 * that read well (addressee number, My Number's hash, ticket number), so that a later row
 * repeating one of them is still found a duplicate of this line.
 */
function rejectedRow(line: number, problems: RowProblem[], addressee: string | null, hmac: string | null, ticket: string): string {
  const none = '\t\\N';
  return `${line}\t${addressee ?? '\\N'}${none}\t${hmac ?? '\\N'}${none.repeat(6)}\t${ticket}${none}\t${text(JSON.stringify(problems))}\n`;
}

/** What a row is checked against besides itself. */
export interface RowRules {
  /** Today in Japan: no birth date after it. */
  today: string;
  /** Every municipality and ward code of the national list (6 digits): a code outside it is no municipality's. */
  nationalCodes: ReadonlySet<string>;
}

/**
 * Checks one data row and returns its staging line in COPY text format: a good row's with My
 * Number already encrypted and hashed under the municipality's keys (the plaintext never leaves
 * this function), a bad row's with every problem of the row.
 */
export function stageRow(record: string[], line: number, layout: Layout, keys: TenantKeys, rules: RowRules): { copy: string; rejected: boolean } {
  const problems: RowProblem[] = [];
  const get = (column: ColumnName) => {
    const i = layout.index[column];
    return i === undefined ? '' : (record[i] ?? '').trim();
  };
  const required = (column: ColumnName): string | null => {
    const value = get(column);
    if (value === '') problems.push({ field: column, code: ErrorCode.REQUIRED, message: 'is required' });
    return value === '' ? null : value;
  };
  const identifier = (column: 'addresseeNumber' | 'myNumber', check: typeof checkMyNumber): string | null => {
    const raw = required(column);
    if (raw === null) return null;
    const checked = check(raw);
    if (checked.ok) return checked.value;
    problems.push({ field: column, code: identifierError(checked.reason), message: checked.message });
    return null;
  };

  // A value beyond the header's fields means the row does not line up with the header (an
  // unquoted comma in some column?): its columns cannot be trusted. Spreadsheets pad rows with
  // empty fields, which carry nothing and are accepted.
  let fields = record.length;
  while (fields > layout.fields && record[fields - 1].trim() === '') fields--;
  if (fields > layout.fields) problems.push({ field: '', code: ErrorCode.INVALID_FORMAT, message: `has ${fields} fields; the header has ${layout.fields}` });

  const municipality = get('municipalityCode');
  if (municipality !== '') {
    const digits = normaliseDigits(municipality);
    // Some registry systems still write the 5-digit code without its check digit, and a
    // designated city's extracts may name the resident's ward.
    if (!ownMunicipalityCodes(keys.municipalityCode).has(digits)) {
      // The 5-digit form is checked as the code it stands for (its check digit added), so that a
      // code no prefecture has reads as a bad value rather than as another municipality's.
      const checked = !/^\d{5,6}$/.test(digits)
        ? { ok: false as const, reason: 'format' as const, message: 'must be 5 or 6 digits' }
        : checkMunicipalityCode(digits.length === 5 ? `${digits}${municipalityCheckDigit(digits)}` : digits);
      if (!checked.ok) problems.push({ field: 'municipalityCode', code: identifierError(checked.reason), message: checked.message });
      // A code no municipality has (a spreadsheet dropped its leading zero, say) is not another's.
      else if (!rules.nationalCodes.has(checked.value)) problems.push({ field: 'municipalityCode', code: ErrorCode.UNKNOWN_MUNICIPALITY, message: 'is not a municipality in the national list' });
      else problems.push({ field: 'municipalityCode', code: ErrorCode.OTHER_MUNICIPALITY, message: 'row belongs to another municipality; only the own municipality\'s residents can be imported' });
    }
  }
  const addressee = identifier('addresseeNumber', checkAddresseeNumber);
  const myNumber = identifier('myNumber', checkMyNumber);
  const names: string[] = [];
  for (const column of ['familyName', 'givenName', 'familyNameKana', 'givenNameKana'] as const) {
    let value = required(column);
    if (value === null) continue;
    // Half-width katakana (ｶﾅ) is common in registry extracts; store full-width as the API does.
    if (column.endsWith('Kana')) value = normaliseKana(value);
    const unreadable = nameCharactersProblem(value);
    if (unreadable) problems.push({ field: column, code: ErrorCode.INVALID_FORMAT, message: unreadable });
    else if (charCount(value) > NAME_MAX) problems.push({ field: column, code: ErrorCode.INVALID_FORMAT, message: `must be at most ${NAME_MAX} characters` });
    else if (column.endsWith('Kana') && !KATAKANA.test(value)) problems.push({ field: column, code: ErrorCode.INVALID_FORMAT, message: 'must be written in katakana' });
    else names.push(value);
  }
  let birthDate: string | null = null;
  const rawBirth = required('birthDate');
  if (rawBirth !== null) {
    birthDate = parseRegistryDate(rawBirth);
    const timed = birthDate ? null : WITH_TIME.exec(rawBirth.normalize('NFKC').trim());
    if (timed && parseRegistryDate(timed[1])) {
      problems.push({ field: 'birthDate', code: ErrorCode.INVALID_DATE, message: 'must be a date only: a time of day other than 0:00 is not allowed' });
    } else if (!birthDate) problems.push({ field: 'birthDate', code: ErrorCode.INVALID_DATE, message: 'must be a real date (YYYY-MM-DD, 令和3年4月1日 or R3.4.1)' });
    else if (birthDate > rules.today) problems.push({ field: 'birthDate', code: ErrorCode.DATE_IN_FUTURE, message: 'must not be in the future' });
    else if (birthDate < EARLIEST_BIRTH) problems.push({ field: 'birthDate', code: ErrorCode.INVALID_DATE, message: `must not be before ${EARLIEST_BIRTH}` });
  }
  const rawSex = required('sex');
  const sex = rawSex === null ? undefined : SEX.get(rawSex.normalize('NFKC').toLowerCase());
  if (rawSex !== null && !sex) problems.push({ field: 'sex', code: ErrorCode.INVALID_FORMAT, message: 'unknown sex code; use 1/2, 男/女, M/F or MALE/FEMALE' });

  let ticket = '\\N';
  let series = '\\N';
  const rawTicket = get('ticketNumber');
  const rawSeries = get('series');
  if (rawTicket !== '') {
    const checked = checkTicketNumber(rawTicket);
    if (!checked.ok) problems.push({ field: 'ticketNumber', code: ErrorCode.INVALID_FORMAT, message: checked.message });
    else ticket = checked.value;
    if (rawSeries === '') problems.push({ field: 'series', code: ErrorCode.REQUIRED, message: 'is required with a ticket number' });
    else {
      const checked = checkIssuedSeries(rawSeries);
      if (!checked.ok) problems.push({ field: 'series', code: ErrorCode.INVALID_SERIES, message: checked.message });
      else series = checked.value;
    }
  } else if (rawSeries !== '') {
    problems.push({ field: 'ticketNumber', code: ErrorCode.REQUIRED, message: 'is required with a series' });
  }

  const hmac = myNumber === null ? null : `\\\\x${keys.lookupHash(myNumber).toString('hex')}`;
  if (problems.length > 0) return { copy: rejectedRow(line, problems, addressee, hmac, ticket), rejected: true };
  const copy = `${line}\t${addressee}\t\\\\x${keys.encrypt(myNumber!).toString('hex')}\t${hmac}\t${text(names[0])}\t${text(names[1])}\t${text(names[2])}\t${text(names[3])}\t${birthDate}\t${sex}\t${ticket}\t${series}\t\\N\n`;
  return { copy, rejected: false };
}
