import { parseDoseIntervals } from '../../src/validation/dose-intervals';

describe('DOSE_INTERVALS', () => {
  it('refuses an interval before dose 1 for what it is: the first dose has no previous dose', () => {
    expect(() => parseDoseIntervals('1:5d')).toThrow(
      'DOSE_INTERVALS: "1:5d" gives dose 1 an interval, but the first dose has no previous dose to wait after: intervals start at dose 2');
    expect(() => parseDoseIntervals('2:18d,1:5d')).toThrow('the first dose has no previous dose');
    expect(() => parseDoseIntervals('0:5d')).toThrow(
      'DOSE_INTERVALS: "0:5d" gives dose 0 an interval, but doses are counted from 1, and dose 1 has no previous dose to wait after: intervals start at dose 2');
  });

  it('still refuses a malformed entry by its form', () => {
    expect(() => parseDoseIntervals('2:18x')).toThrow('DOSE_INTERVALS: "2:18x" is not like "2:18d" or "3:3m"');
  });
});
