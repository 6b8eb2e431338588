import { normaliseDate } from './dates';

/**
 * Dates as registry extracts write them: ISO (2021-04-01, 2021/4/1, 20210401) or Japanese era
 * (令和3年4月1日, 令和元年5月1日, R3年4月1日, R3.4.1, R元.5.1, H31/4/30, S64-1-7). Full-width characters are accepted,
 * and hyphens as the API reads them (normaliseDate: a dash, a minus sign, the ー kana mode types), and so is a
 * midnight time after an ISO date (1970/1/1 0:00:00), as spreadsheets render a date cell.
 * Returns an ISO date, or null when the text is not a real date of that era.
 */
const ERAS: Record<string, { offset: number; from: string; to: string }> = {
  // Taisho and Showa began on the day the emperor before them died, so that day is in both eras and registries
  // write either (明治45年7月30日 is 大正元年7月30日, 大正15年12月25日 昭和元年12月25日); Heisei began the day after.
  M: { offset: 1867, from: '1868-01-25', to: '1912-07-30' },
  T: { offset: 1911, from: '1912-07-30', to: '1926-12-25' },
  S: { offset: 1925, from: '1926-12-25', to: '1989-01-07' },
  H: { offset: 1988, from: '1989-01-08', to: '2019-04-30' },
  R: { offset: 2018, from: '2019-05-01', to: '9999-12-31' },
};
const ERA_NAMES: Record<string, string> = { 明治: 'M', 大正: 'T', 昭和: 'S', 平成: 'H', 令和: 'R' };

// Any other time is refused: a birth date carrying one is more likely a wrong column than a date.
const ISO_LIKE = /^(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:\s+0?0:00(?::00)?)?$/;
const COMPACT = /^(\d{4})(\d{2})(\d{2})$/;
const ERA_YMD_KANJI = /^(明治|大正|昭和|平成|令和|[MTSHR])\s*(元|\d{1,2})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日$/i;
const LETTER_ERA = /^([MTSHR])\s*(元|\d{1,2})[-/.](\d{1,2})[-/.](\d{1,2})$/i;
const YMD_KANJI = /^(\d{4})\s*年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*日$/;

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** Checked by arithmetic rather than through Date: an import calls this millions of times. */
function iso(year: number, monthText: string, dayText: string): string | null {
  const month = Number(monthText);
  const day = Number(dayText);
  if (year < 1 || month < 1 || month > 12 || day < 1) return null;
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  if (day > (month === 2 && leap ? 29 : DAYS[month - 1])) return null;
  return `${String(year).padStart(4, '0')}-${monthText.padStart(2, '0')}-${dayText.padStart(2, '0')}`;
}

function fromEra(letter: string, yearText: string, month: string, day: string): string | null {
  const era = ERAS[letter.toUpperCase()];
  const year = yearText === '元' ? 1 : Number(yearText);
  if (!era || year < 1) return null;
  const value = iso(era.offset + year, month, day);
  // 平成31年5月1日 does not exist: that day is 令和元年5月1日.
  return value && value >= era.from && value <= era.to ? value : null;
}

export function parseRegistryDate(input: string): string | null {
  const text = normaliseDate(input);
  let m = ISO_LIKE.exec(text) ?? COMPACT.exec(text) ?? YMD_KANJI.exec(text);
  if (m) return iso(Number(m[1]), m[2], m[3]);
  m = ERA_YMD_KANJI.exec(text);
  if (m) return fromEra(ERA_NAMES[m[1]] ?? m[1], m[2], m[3], m[4]);
  m = LETTER_ERA.exec(text);
  if (m) return fromEra(m[1], m[2], m[3], m[4]);
  return null;
}
