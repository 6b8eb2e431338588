import { normaliseWidth } from './identifiers';

/** Dates travel as ISO 8601 calendar dates (YYYY-MM-DD); these helpers keep them as strings. */

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

export function isIsoDate(value: string): boolean {
  const m = ISO_DATE.exec(value);
  if (!m) return false;
  const date = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return date.toISOString().slice(0, 10) === value;
}

/**
 * A date as Japanese input types it: full-width digits and hyphens (２０２１－０４－０１) become ASCII,
 * as in a registry file, and so does the long-vowel mark that kana mode types for a hyphen (２０２１ー０４ー０１).
 */
export function normaliseDate(input: string): string {
  return normaliseWidth(input).replace(/\u30fc/g, '-');
}

/** Today in Japan, where every vaccination date is reckoned. */
export function todayInJapan(now: Date = new Date()): string {
  return new Date(now.getTime() + 9 * 3600_000).toISOString().slice(0, 10);
}

/** The earliest birth date a resident record accepts. */
export const EARLIEST_BIRTH = '1890-01-01';

/** COVID-19 vaccination began in Japan on this day: no dose is dated before it. */
export const FIRST_VACCINATION_DAY = '2021-02-17';

export function isFuture(date: string, now: Date = new Date()): boolean {
  return date > todayInJapan(now);
}
