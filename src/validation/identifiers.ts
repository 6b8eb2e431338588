/**
 * Checks for the identifiers of DESIGN.md §3. Each returns the normalised value or a reason;
 * callers attach the reason to the input field it came from.
 */
export type Checked<T = string> = { ok: true; value: T } | { ok: false; reason: 'format' | 'checkDigit'; message: string };

const FULL_WIDTH_DIGITS = /[０-９]/g;

/** Japanese input methods often produce full-width digits (０-９); treat them as ASCII. */
export function normaliseDigits(input: string): string {
  return input.replace(FULL_WIDTH_DIGITS, (d) => String.fromCharCode(d.charCodeAt(0) - 0xfee0)).trim();
}

const NON_ASCII = /[^\x00-\x7f]/;
const DASHES = /[\u2010-\u2015\u2212]/g;

/**
 * For identifiers of letters, digits and hyphens: full-width forms (Ａ, ０, －, the ideographic space)
 * become ASCII, and the dashes and minus sign that word processors put for a hyphen become one.
 */
export function normaliseWidth(input: string): string {
  return (NON_ASCII.test(input) ? input.normalize('NFKC').replace(DASHES, '-') : input).trim();
}

/** Characters no name holds: control characters, and U+FFFD, what bytes that could not be decoded became. */
const NOT_IN_NAMES = /[\u0000-\u001f\u007f-\u009f\ufffd]/;

/** Private-use characters: Shift_JIS 外字 (user-defined characters) decode to them, and no other system shows them alike. */
const PRIVATE_USE = /[\ue000-\uf8ff\u{f0000}-\u{ffffd}\u{100000}-\u{10fffd}]/u;

/**
 * Invisible format characters (Unicode Cf): zero-width spaces and joiners, direction marks and overrides, a
 * byte-order mark inside the text. Pasted along with a name, they make it differ from the same name typed, or
 * reorder how it is shown. Ideographic variation selectors (葛󠄀) are marks, not format characters, and stay.
 */
const INVISIBLE = /\p{Cf}/u;

/** Length in characters, as the database's length() counts them: 𠮷 is one, not two UTF-16 units. */
export const charCount = (text: string): number => [...text].length;

/** The most characters a name (family or given, written or in kana) holds, as the resident table's check says. */
export const NAME_MAX = 50;

export function nameCharactersProblem(value: string): string | null {
  if (NOT_IN_NAMES.test(value)) return 'must not contain control characters, nor U+FFFD (what bytes that could not be decoded become)';
  if (INVISIBLE.test(value)) return 'must not contain invisible formatting characters (zero-width spaces, direction marks), which come along with pasted text';
  if (PRIVATE_USE.test(value)) return 'must not contain private-use characters (外字, which other systems cannot show): write the name in standard characters';
  return null;
}

/** JIS X 0401 prefecture code, 01–47. */
export function checkPrefectureCode(input: string): Checked {
  const value = normaliseDigits(input);
  if (!/^\d{2}$/.test(value) || Number(value) < 1 || Number(value) > 47) {
    return { ok: false, reason: 'format', message: 'must be a 2-digit prefecture code from 01 to 47' };
  }
  return { ok: true, value };
}

/** Check digit of JIS X 0402: last digit of 11 − (d1·6 + d2·5 + d3·4 + d4·3 + d5·2) mod 11. */
export function municipalityCheckDigit(firstFive: string): number {
  const weights = [6, 5, 4, 3, 2];
  const sum = weights.reduce((s, w, i) => s + w * Number(firstFive[i]), 0);
  return (11 - (sum % 11)) % 10;
}

export function checkMunicipalityCode(input: string): Checked {
  const value = normaliseDigits(input);
  if (!/^\d{6}$/.test(value)) return { ok: false, reason: 'format', message: 'must be 6 digits' };
  if (!checkPrefectureCode(value.slice(0, 2)).ok) {
    return { ok: false, reason: 'format', message: 'must start with a prefecture code from 01 to 47' };
  }
  if (municipalityCheckDigit(value) !== Number(value[5])) {
    return { ok: false, reason: 'checkDigit', message: 'check digit does not match (mistyped or misread code?)' };
  }
  return { ok: true, value };
}

/**
 * My Number check digit: P_n is the n-th digit from the right of the first 11, Q_n = n+1 for
 * n ≤ 6 and n−5 for n ≥ 7; r = Σ P_n·Q_n mod 11; check = 0 if r ≤ 1 else 11 − r.
 */
export function myNumberCheckDigit(firstEleven: string): number {
  let sum = 0;
  for (let n = 1; n <= 11; n++) {
    const p = Number(firstEleven[11 - n]);
    sum += p * (n <= 6 ? n + 1 : n - 5);
  }
  const r = sum % 11;
  return r <= 1 ? 0 : 11 - r;
}

export function checkMyNumber(input: string): Checked {
  const value = normaliseWidth(input).replace(/[\s-]/g, '');
  if (!/^\d{12}$/.test(value)) return { ok: false, reason: 'format', message: 'must be 12 digits' };
  if (myNumberCheckDigit(value) !== Number(value[11])) {
    return { ok: false, reason: 'checkDigit', message: 'check digit does not match (mistyped number?)' };
  }
  return { ok: true, value };
}

/** An id as the API hands them out (a UUID); anything else cannot name a row. */
export const isUuid = (id: string): boolean => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);

/** Full-width katakana, as names are kept in kana: ァ–ヺ (ヷ and ヺ come from half-width ﾜﾞ and ｦﾞ), the middle dot, ー, the iteration marks ヽヾ, spaces. */
export const KATAKANA = /^[ァ-ヺ・ーヽヾ\u3000 ]+$/u;

/** Kana as names are kept, the form the CSV import stores: NFKC turns half-width katakana (ｻﾄｳ, ｶﾞ) into full-width (サトウ, ガ). */
export const normaliseKana = (input: string): string => input.normalize('NFKC').trim();

/** Hiragana, with its iteration marks ゝゞ: each sits 0x60 below its katakana. */
const HIRAGANA = /[\u3041-\u3096\u309d\u309e]/g;

/**
 * What separates the parts of a kana name, after NFKC (which makes ･ the middle dot ・ and ＝ an =): spaces, half- or
 * full-width, and the middle dot or double hyphen (=, ゠) with which registries write a foreign resident's names
 * (スミス・ジョン). The search ignores them on both sides: resident.search_kana drops the same characters from the
 * names (migrations/1799970000000-kana-search-without-separators.ts), which keep them as entered.
 */
const KANA_SEPARATORS = /[\s・=゠]/gu;

/**
 * A kana search term in the stored form: half-width katakana as for names, and hiragana (さとう), which
 * a search box receives from an input method before conversion, as katakana. Names themselves are
 * never converted from hiragana: a registry's kana column in hiragana is more likely the wrong column.
 * Separators go: a term typed as family and given name apart (ヨシダ タロウ, スミス・ジョン) is searched as the
 * names run together, as they are matched, without the separators a name holds (ジョン ポール, メアリー・アン).
 */
export const kanaSearchTerm = (input: string): string =>
  normaliseKana(input).replace(KANA_SEPARATORS, '').replace(HIRAGANA, (c) => String.fromCharCode(c.charCodeAt(0) + 0x60));

/** Addressee number (宛名番号): the municipality's own resident ID, up to 20 letters, digits or hyphens. */
export function checkAddresseeNumber(input: string): Checked {
  const value = normaliseWidth(input);
  if (!/^[0-9A-Za-z-]{1,20}$/.test(value)) {
    return { ok: false, reason: 'format', message: 'must be 1 to 20 letters, digits or hyphens' };
  }
  return { ok: true, value };
}
