import { PublishedDay } from '../../src/services/statistics.suppression';

/**
 * What an attacker can derive from one published breakdown: the published cells, and the total
 * (published elsewhere when it is not small). The suppressed cells then sum to D = total −
 * published, each anywhere in [0, D]. A cell is recovered when it is the only suppressed one or
 * when D = 0; and D itself is a figure, so it must not be small.
 */
export function breakdownLeaks(published: (number | null)[], total: number, threshold: number): string[] {
  const hidden = published.filter((v) => v === null).length;
  if (total < threshold) return published.every((v) => v === null) ? [] : ['total is small but cells are published'];
  if (published.some((v) => v !== null && v < threshold)) return ['a published cell is below the threshold'];
  if (hidden === 0) return [];
  const derived = total - published.reduce<number>((s, v) => s + (v ?? 0), 0);
  const leaks: string[] = [];
  if (hidden === 1) leaks.push('a single suppressed cell equals total minus the published ones');
  if (derived < threshold) leaks.push(`suppressed cells together hold ${derived} < ${threshold}`);
  return leaks;
}

/** Same, for a daily series: every stretch between published running totals is one breakdown. */
export function seriesLeaks(series: PublishedDay[], total: number, threshold: number): string[] {
  if (total < threshold) return series.every((d) => d.count.suppressed && d.cumulative.suppressed) ? [] : ['total is small but figures are published'];
  const leaks: string[] = [];
  let previous = 0;
  let stretch: (number | null)[] = [];
  const close = (upTo: number) => {
    leaks.push(...breakdownLeaks(stretch, upTo - previous, 1).filter((l) => !l.startsWith('total')));
    const hidden = stretch.filter((v) => v === null).length;
    const derived = upTo - previous - stretch.reduce<number>((s, v) => s + (v ?? 0), 0);
    if (hidden > 0 && derived < threshold) leaks.push(`a stretch of suppressed days holds ${derived}`);
    previous = upTo;
    stretch = [];
  };
  for (const d of series) {
    if (d.count.value !== null && d.count.value < threshold) leaks.push(`a published day holds ${d.count.value} < ${threshold}`);
    stretch.push(d.count.value);
    if (!d.cumulative.suppressed) close(d.cumulative.value!);
  }
  close(total);
  return leaks;
}

/**
 * What an attacker can derive from the dose-number breakdown, knowing that doses have no gaps:
 * from index `ordered` up the counts never increase (see suppressDoseNumbers). Every assignment of
 * the hidden cells that adds up to the total and keeps that order is enumerated; a hidden cell
 * leaks when only one value is left for it, or only small counts other than nought.
 */
export function orderedDoseLeaks(published: (number | null)[], total: number, threshold: number, ordered: number): string[] {
  const possible = published.map(() => new Set<number>());
  const x = [...published];
  const visit = (i: number, left: number) => {
    if (i === x.length) {
      if (left === 0) x.forEach((v, j) => published[j] === null && possible[j].add(v!));
      return;
    }
    const above = i > ordered ? x[i - 1]! : Infinity;
    if (published[i] !== null) {
      if (published[i]! <= above) visit(i + 1, left);
      return;
    }
    for (let v = 0; v <= Math.min(left, above); v++) {
      x[i] = v;
      visit(i + 1, left - v);
    }
    x[i] = null;
  };
  visit(0, total - published.reduce<number>((s, v) => s + (v ?? 0), 0));
  const leaks: string[] = [];
  possible.forEach((values, j) => {
    if (published[j] !== null) return;
    const [least, most] = [Math.min(...values), Math.max(...values)];
    if (values.size === 0) leaks.push(`dose number ${j + 1}: no assignment fits`);
    else if (values.size === 1) leaks.push(`dose number ${j + 1} is ${least}`);
    else if (least > 0 && most < threshold) leaks.push(`dose number ${j + 1} is between ${least} and ${most}`);
  });
  return leaks;
}
