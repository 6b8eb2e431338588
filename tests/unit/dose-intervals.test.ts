import { parseDoseIntervals } from '../../src/validation/dose-intervals';

describe('DOSE_INTERVALS', () => {
  it('refuses an interval before dose 1 for what it is: the first dose has no previous dose', () => {
    expect(() => parseDoseIntervals('1:5d')).toThrow(
      'DOSE_INTERVALS: "1:5d" gives dose 1 an interval, but the first dose has no previous dose to wait after: intervals start at dose 2');
    expect(() => parseDoseIntervals('2:18d,1:5d')).toThrow('the first dose has no previous dose');
    expect(() => parseDoseIntervals('0:5d')).toThrow(
      'DOSE_INTERVALS: "0:5d" gives dose 0 an interval, but doses are counted from 1, and dose 1 has no previous dose to wait after: intervals start at dose 2');
  });

  it('refuses an interval of nought: a reservation would be told the previous dose\'s day, which registration refuses', () => {
    expect(() => parseDoseIntervals('2:0d,3:3m')).toThrow(
      'DOSE_INTERVALS: "2:0d" is no interval: a dose is never given on the previous dose\'s day, so the least is 1d; leave the dose out to give it none');
    expect(() => parseDoseIntervals('2:18d,3:00m')).toThrow('DOSE_INTERVALS: "3:00m" is no interval');
    expect(parseDoseIntervals('2:1d')).toEqual([{ fromDose: 2, amount: 1, unit: 'd' }]);
  });

  it('still refuses a malformed entry by its form', () => {
    expect(() => parseDoseIntervals('2:18x')).toThrow('DOSE_INTERVALS: "2:18x" is not like "2:18d" or "3:3m"');
  });
});
