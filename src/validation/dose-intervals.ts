/**
 * Minimum interval before a dose, configurable as "2:18d,3:3m": dose 2 at least 18 days after
 * dose 1, dose 3 and every later dose at least 3 months after the previous one (the last entry
 * applies onwards; doses before the first entry have none). Units: d (days), m (calendar months).
 */
export const DEFAULT_DOSE_INTERVALS = '2:18d,3:3m';

export interface Interval {
  fromDose: number;
  amount: number;
  unit: 'd' | 'm';
}

export function parseDoseIntervals(spec: string = DEFAULT_DOSE_INTERVALS): Interval[] {
  const intervals = spec.split(',').map((part) => {
    const m = /^\s*(\d{1,2}):(\d{1,4})([dm])\s*$/.exec(part);
    if (!m) throw new Error(`DOSE_INTERVALS: "${part}" is not like "2:18d" or "3:3m"`);
    if (Number(m[1]) < 2) {
      throw new Error(`DOSE_INTERVALS: "${part}" gives dose ${Number(m[1])} an interval, but ${Number(m[1]) === 1 ? 'the first dose has' : 'doses are counted from 1, and dose 1 has'} no previous dose to wait after: intervals start at dose 2`);
    }
    // A dose is registered only after the one before it (dose-rules.ts): none waits "0" and is given that day.
    if (Number(m[2]) === 0) {
      throw new Error(`DOSE_INTERVALS: "${part}" is no interval: a dose is never given on the previous dose's day, so the least is 1${m[3]}; leave the dose out to give it none`);
    }
    return { fromDose: Number(m[1]), amount: Number(m[2]), unit: m[3] as 'd' | 'm' };
  });
  intervals.sort((a, b) => a.fromDose - b.fromDose);
  const repeated = intervals.find((i, n) => n > 0 && intervals[n - 1].fromDose === i.fromDose);
  if (repeated) throw new Error(`DOSE_INTERVALS: dose ${repeated.fromDose} is given more than one interval`);
  return intervals;
}

/** The earliest date `dose` may be given after the previous dose on `previous` (ISO dates); null when no interval applies to it. */
export function earliestDate(intervals: Interval[], dose: number, previous: string): string | null {
  const rule = [...intervals].reverse().find((i) => i.fromDose <= dose);
  if (!rule) return null;
  const [y, mo, d] = previous.split('-').map(Number);
  if (rule.unit === 'd') return new Date(Date.UTC(y, mo - 1, d + rule.amount)).toISOString().slice(0, 10);
  // Calendar months, clamped to the month's end (e.g. 11-30 + 3 months = 02-28/29).
  const target = new Date(Date.UTC(y, mo - 1 + rule.amount, 1));
  const last = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(d, last));
  return target.toISOString().slice(0, 10);
}
