import { checkMunicipalityCode, Checked, normaliseDigits, normaliseWidth } from './identifiers';

/**
 * Ticket identifiers (DESIGN.md §3). Ticket numbers carry no check digit, so the municipality
 * code's check digit and the dose digit of the OCR line are the only misread checks there are.
 */

/** 10 digits; the only rule is uniqueness within the municipality. */
export function checkTicketNumber(input: string): Checked {
  const value = normaliseDigits(input);
  if (!/^\d{10}$/.test(value)) return { ok: false, reason: 'format', message: 'must be 10 digits' };
  return { ok: true, value };
}

/** A campaign series: one dose ("3") or a range ("1-2"). */
export interface Series {
  first: number;
  last: number;
}

/** The highest dose number a record takes (vaccination_record_dose_number_range). */
const LAST_DOSE = 20;

/** The doses a series is written with, whether or not they make one ("2-1" and "1-99" too). */
function readSeries(input: string): Series | null {
  const m = /^(\d{1,2})(?:\s*[-~〜]\s*(\d{1,2}))?$/.exec(normaliseWidth(input));
  if (!m) return null;
  const first = Number(m[1]);
  return { first, last: m[2] === undefined ? first : Number(m[2]) };
}

/** Also written with full-width digits and dashes, or a wave dash for the range: "１－２", "1〜2". */
export function parseSeries(input: string): Series | null {
  const series = readSeries(input);
  return series && series.first >= 1 && series.last >= series.first && series.last <= LAST_DOSE ? series : null;
}

/** The one way a series is stored: "3" or "1-2" (so "01-02" and "1-2" are one series). */
export const seriesText = (series: Series): string => (series.first === series.last ? `${series.first}` : `${series.first}-${series.last}`);

/**
 * A series a new ticket may be issued for, in its stored form. The OCR line prints the series'
 * first dose as its one dose digit; later doses of a range ("8-12") are used on the same ticket.
 * A dose past those limits is told which one it passes: "21" and "1-99" are doses, only too late ones.
 */
export function checkIssuedSeries(input: string): Checked {
  const series = readSeries(input);
  if (!series || series.first < 1 || series.last < series.first) {
    return { ok: false, reason: 'format', message: 'must be a dose number or a range of doses, e.g. "3" or "1-2"' };
  }
  if (series.first > 9) return { ok: false, reason: 'format', message: 'must start at dose 9 at the latest: the ticket\'s OCR line has one digit for the dose' };
  if (series.last > LAST_DOSE) return { ok: false, reason: 'format', message: `must end at dose ${LAST_DOSE} at the latest: no dose is numbered higher` };
  return { ok: true, value: seriesText(series) };
}

export const seriesCovers = (series: string, dose: number): boolean => {
  const parsed = parseSeries(series);
  return !!parsed && dose >= parsed.first && dose <= parsed.last;
};

export interface OcrLine {
  ticketType: number;
  doseDigit: number;
  municipalityCode: string;
  ticketNumber: string;
}

export type OcrChecked = { ok: true; value: OcrLine } | { ok: false; part: 'ocr' | 'municipalityCode' | 'doseDigit'; reason: 'format' | 'checkDigit'; message: string };

/**
 * Ticket type (1) + dose number (1) + issuing municipality code with check digit (6) + ticket number (10).
 * Spaces and hyphens between groups are dropped, also as Japanese input types them: full-width (　, －),
 * a dash for a hyphen, or the long-vowel mark kana mode types for one (ー).
 */
export function parseOcrLine(input: string): OcrChecked {
  const value = normaliseWidth(input).replace(/[\s\-\u30fc]/g, '');
  if (!/^\d{18}$/.test(value)) return { ok: false, part: 'ocr', reason: 'format', message: 'must be 18 digits (ticket type, dose number, municipality code, ticket number)' };
  const doseDigit = Number(value[1]);
  if (doseDigit === 0) return { ok: false, part: 'doseDigit', reason: 'format', message: 'dose digit (2nd) is 0: misread?' };
  const municipality = checkMunicipalityCode(value.slice(2, 8));
  if (!municipality.ok) return { ok: false, part: 'municipalityCode', reason: municipality.reason, message: `municipality code (digits 3–8) ${municipality.message}` };
  return { ok: true, value: { ticketType: Number(value[0]), doseDigit, municipalityCode: municipality.value, ticketNumber: value.slice(8) } };
}

/** The OCR line for a ticket, as printed. Used by tests, seeding and demo data. */
export function ocrLineOf(municipalityCode: string, ticketNumber: string, series: string, ticketType = 1): string {
  return `${ticketType}${parseSeries(series)?.first ?? 1}${municipalityCode}${ticketNumber}`;
}

/** Lot numbers as printed on the vial label: letters, digits and hyphens; stored upper-case. */
export function checkLotNumber(input: string): Checked {
  const value = normaliseWidth(input).toUpperCase();
  if (!/^[A-Z0-9-]{1,20}$/.test(value) || !/[A-Z0-9]/.test(value)) {
    return { ok: false, reason: 'format', message: 'must be 1 to 20 letters, digits or hyphens as printed on the vial' };
  }
  return { ok: true, value };
}
