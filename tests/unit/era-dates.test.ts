import { parseRegistryDate } from '../../src/validation/era-dates';

describe('parseRegistryDate', () => {
  it.each([
    ['2021-04-01', '2021-04-01'],
    ['2021/4/1', '2021-04-01'],
    ['20210401', '2021-04-01'],
    ['２０２１－０４－０１', '2021-04-01'],
    ['2021年4月1日', '2021-04-01'],
    ['令和3年4月1日', '2021-04-01'],
    ['令和元年5月1日', '2019-05-01'],
    ['令和３年４月１日', '2021-04-01'],
    ['R3.4.1', '2021-04-01'],
    ['r03.04.01', '2021-04-01'],
    ['R3/4/1', '2021-04-01'],
    ['Ｒ３．４．１', '2021-04-01'],
    ['H31.4.30', '2019-04-30'],
    ['R元.5.1', '2019-05-01'],
    ['H元.1.8', '1989-01-08'],
    ['平成元年1月8日', '1989-01-08'],
    ['平成12年2月29日', '2000-02-29'],
    ['S64.1.7', '1989-01-07'],
    ['昭和20年8月15日', '1945-08-15'],
    ['大正15年12月24日', '1926-12-24'],
    ['明治45年7月29日', '1912-07-29'],
  ])('%s → %s', (input, expected) => {
    expect(parseRegistryDate(input)).toBe(expected);
  });

  it.each([
    ['H31.5.1', 'after the end of Heisei'],
    ['平成元年1月7日', 'before the start of Heisei'],
    ['R元.4.30', 'before the start of Reiwa'],
    ['S64.1.8', 'after the end of Showa'],
    ['令和0年5月1日', 'year zero'],
    ['R3.2.29', 'not a leap year'],
    ['2021-13-01', 'no month 13'],
    ['X3.4.1', 'unknown era letter'],
    ['3.4.1', 'no era'],
    ['', 'empty'],
    ['2021-04-01T00:00', 'not a date'],
  ])('refuses %s (%s)', (input) => {
    expect(parseRegistryDate(input)).toBeNull();
  });
});
