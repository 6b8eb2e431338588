/**
 * Small-cell suppression for published statistics (DESIGN.md §4.7: no figure may single out a
 * person). Pure functions, so the rules are tested exhaustively on their own.
 *
 * Primary: every cell below the threshold is suppressed — zero included, so that a suppressed
 * cell is never known to be at least one.
 * Secondary: within one breakdown (cells that add up to the published total), the suppressed
 * cells must be none, or at least two that together hold at least `threshold`; otherwise the
 * smallest published cells are suppressed as well. Whatever can be derived by subtraction
 * (total − published cells) is then a sum of two or more cells and itself not small, so no
 * suppressed cell can be recovered: each lies anywhere in [0, that sum].
 * The total itself is suppressed when it is below the threshold (then so is every cell).
 */

export interface RawCell<L = string> {
  label: L;
  value: number;
}

export interface PublishedCell<L = string> {
  label: L;
  value: number | null;
  suppressed: boolean;
}

export const published = (value: number, threshold: number): { value: number | null; suppressed: boolean } =>
  value < threshold ? { value: null, suppressed: true } : { value, suppressed: false };

/** Which cells of one breakdown to suppress (by index). */
export function suppressedIndexes(values: number[], threshold: number): Set<number> {
  const hidden = new Set<number>();
  let hiddenSum = 0;
  values.forEach((v, i) => {
    if (v < threshold) {
      hidden.add(i);
      hiddenSum += v;
    }
  });
  // Smallest first, ties by position, so the outcome depends only on the values.
  const candidates = values.map((v, i) => [v, i] as const).filter(([, i]) => !hidden.has(i)).sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (const [v, i] of candidates) {
    if (hidden.size === 0 || (hidden.size >= 2 && hiddenSum >= threshold)) break;
    hidden.add(i);
    hiddenSum += v;
  }
  return hidden;
}

export function suppressBreakdown<L>(cells: RawCell<L>[], threshold: number): PublishedCell<L>[] {
  const hidden = suppressedIndexes(cells.map((c) => c.value), threshold);
  return cells.map((c, i) => (hidden.has(i) ? { label: c.label, value: null, suppressed: true } : { label: c.label, value: c.value, suppressed: false }));
}

export interface PublishedDay {
  date: string;
  count: { value: number | null; suppressed: boolean };
  cumulative: { value: number | null; suppressed: boolean };
}

/**
 * A daily series with running totals. The days form one breakdown of the range's total. A
 * running total at day d, minus the previous published one and the published days between,
 * gives the sum of the suppressed days in that stretch; a running total is therefore published
 * only where that stretch holds no suppressed day, or at least two together worth the
 * threshold — the same rule as for a breakdown. The last stretch is closed by the total.
 */
export function suppressSeries(days: RawCell[], threshold: number): PublishedDay[] {
  const hidden = suppressedIndexes(days.map((d) => d.value), threshold);
  const ok = (count: number, sum: number) => count === 0 || (count >= 2 && sum >= threshold);
  const publishCumulative: boolean[] = [];
  const stretchStart: number[] = [];
  let count = 0;
  let sum = 0;
  let start = 0;
  days.forEach((d, i) => {
    if (hidden.has(i)) {
      count++;
      sum += d.value;
    }
    stretchStart.push(start);
    publishCumulative.push(ok(count, sum));
    if (publishCumulative[i]) {
      count = 0;
      sum = 0;
      start = i + 1;
    }
  });
  // The total closes the last stretch: if what remains after the last published running total
  // would single out a day, withdraw running totals until the merged stretch is safe (at worst
  // back to the start, where the breakdown rule already holds).
  const total = days.reduce((s, d) => s + d.value, 0);
  if (total >= threshold) {
    let tailCount = count;
    let tailSum = sum;
    let last = days.length - 1;
    while (!ok(tailCount, tailSum)) {
      while (last >= 0 && !publishCumulative[last]) last--;
      if (last < 0) break;
      publishCumulative[last] = false;
      for (let j = stretchStart[last]; j <= last; j++) {
        if (hidden.has(j)) {
          tailCount++;
          tailSum += days[j].value;
        }
      }
    }
  }
  let running = 0;
  return days.map((d, i) => {
    running += d.value;
    return {
      date: d.label,
      count: hidden.has(i) ? { value: null, suppressed: true } : { value: d.value, suppressed: false },
      cumulative: publishCumulative[i] ? { value: running, suppressed: false } : { value: null, suppressed: true },
    };
  });
}

/**
 * Nested cells, each holding the next (people with at least 1 dose ⊇ at least 2 …), within a
 * published population. Their differences count the people with exactly N doses, and the
 * population minus the first the unvaccinated; read from the innermost out they are running
 * totals of those groups that end at the population, so they are published as a series'
 * running totals are: only where what lies between two published figures is safe.
 */
export function suppressNested<L>(cells: RawCell<L>[], population: number, threshold: number): PublishedCell<L>[] {
  const groups = cells.map((c, i) => ({ label: String(i), value: c.value - (cells[i + 1]?.value ?? 0) })).reverse();
  const none = { label: 'none', value: Math.max(0, population - (cells[0]?.value ?? 0)) };
  const totals = suppressSeries([...groups, none], threshold).slice(0, cells.length).reverse();
  return cells.map((c, i) => ({ label: c.label, ...totals[i].cumulative }));
}

/**
 * Dose numbers are published twice: as coverage (people with at least N doses, nested within the
 * population, counted from the start) and as a breakdown of the doses given (adding up to the total
 * doses). From index `ordered` up the breakdown also counts every such dose given up to the end of
 * the range: all dose numbers without a start date; in a closed range those of which the area had
 * none before it. There both count the same records wherever no vaccinated resident has moved out or
 * died and none was copied in by an inquiry, so a figure published by either stands for the other:
 * one decision hides such a dose number in both or in neither (suppressCoverage). Hiding more
 * coverage figures only merges stretches that were safe on their own, so the nested rule holds
 * whatever else is hidden. Below `ordered` a closed range counts the doses given in it, coverage
 * every one up to its end: neither stands for the other, and each list hides what its own rule needs.
 *
 * A dose needs the one before (no gaps, DESIGN.md §3), so from `ordered` up the counts never
 * increase with the dose number, and a published count above a hidden one is a floor for it: with
 * the count below and the total it can pin it (36, hidden, hidden, 20 of 97 doses leave only 21 and
 * 20). Every dose number from the lowest hidden one up is therefore hidden. Below `ordered` a closed
 * range counts later doses of series begun before it (a dose 3 in the range whose dose 2 came
 * earlier), which bound nothing.
 *
 * The two lists differ by what coverage leaves out, vaccinated residents who moved out or died (and
 * by inquiry copies, which only coverage counts, and in a closed range by the doses before it): 51
 * doses 4 beside 50 residents with four doses say that one of them left. So a dose number both lists
 * publish is published only where that difference is nought or not
 * small, and where it changes by nought or not by a small amount from any other such dose
 * number (from 16 to 15: one who left had exactly one dose); of two ordered ones, their counts
 * differ by nought or not by a small amount (those with exactly these doses). Otherwise the higher
 * dose number is hidden.
 *
 * The breakdown rule then holds with the order taken into account: the hidden cells share the total
 * less the published ones, and none may be left with one possible value or with small counts other
 * than nought only; otherwise the smallest published cell is hidden too (of the ordered ones, the
 * highest dose number published), until every dose number is hidden and only the total is left.
 * (With a single dose number in the whole country the breakdown would be the total itself; there
 * have been several since 2021.) Returns the dose numbers the breakdown hides.
 */
export function suppressDoseNumbers(people: number[], population: number, doses: number[], threshold: number, ordered = 0): Set<number> {
  const nested = suppressNested(people.map((value, i) => ({ label: i, value })), population, threshold);
  const hidden = new Set(doses.flatMap((v, i) => (v < threshold || (i >= ordered && nested[i].suppressed) ? [i] : [])));
  const small = (difference: number) => difference !== 0 && Math.abs(difference) < threshold;
  const left = (i: number) => doses[i] - people[i];
  for (;;) {
    for (let i = Math.min(...[...hidden].filter((i) => i >= ordered)); i < doses.length; i++) hidden.add(i);
    const shown = doses.flatMap((_, i) => (hidden.has(i) ? [] : [i]));
    // What the two lists differ by is a figure only where both publish the dose number.
    const both = shown.filter((i) => !nested[i].suppressed);
    const telling = shown.find((b) =>
      (both.includes(b) && (small(left(b)) || both.some((a) => a < b && small(left(a) - left(b))))) ||
      shown.some((a) => a < b && a >= ordered && small(doses[a] - doses[b])));
    if (telling !== undefined) {
      hidden.add(telling);
      continue;
    }
    if (doseCellsSafe(doses, hidden, threshold, ordered)) return hidden;
    // Smallest first, ties to the higher dose number, so that the ordered ones are hidden from the top.
    const [[, next]] = doses.map((v, i) => [v, i] as const).filter(([, i]) => !hidden.has(i)).sort((a, b) => a[0] - b[0] || b[1] - a[1]);
    hidden.add(next);
  }
}

/**
 * The coverage figures to hide, given the dose numbers the breakdown hides (suppressDoseNumbers):
 * those the nested rule hides, and from `ordered` up, where the breakdown counts what coverage
 * counts, every one the breakdown hides.
 */
export function suppressCoverage(people: number[], population: number, hiddenDoses: Set<number>, threshold: number, ordered = 0): Set<number> {
  const nested = suppressNested(people.map((value, i) => ({ label: i, value })), population, threshold);
  return new Set(people.flatMap((_, i) => (nested[i].suppressed || (i >= ordered && hiddenDoses.has(i)) ? [i] : [])));
}

/**
 * Whether every hidden cell of the dose-number breakdown can still take more than one value, and
 * values other than small non-zero counts, given the published cells, the total and the order from
 * `ordered` up (where the hidden cells are the highest dose numbers). Each cell's least and
 * greatest possible value: the others take as much, or as little, as the order and what the
 * published count below the hidden ones (`cap`) allows.
 */
function doseCellsSafe(doses: number[], hidden: Set<number>, threshold: number, ordered: number): boolean {
  if (hidden.size === 0 || hidden.size === doses.length) return true;
  const sum = doses.reduce((s, v, i) => s + (hidden.has(i) ? v : 0), 0);
  if (hidden.size < 2 || sum < threshold) return false;
  const free = [...hidden].filter((i) => i < ordered).length;
  const run = hidden.size - free;
  const first = doses.length - run;
  const cap = first > ordered ? doses[first - 1] : Infinity;
  const ranges: [number, number][] = [];
  for (let k = 0; k < free; k++) ranges.push([free > 1 || cap === Infinity ? 0 : Math.max(0, sum - run * cap), sum]);
  for (let j = 1; j <= run; j++) {
    // The j-th hidden dose number is at most every one below it, and at least every one above.
    let least = 0;
    if (free === 0 && cap !== Infinity) least = Math.max(0, Math.ceil((sum - (j - 1) * cap) / (run - j + 1)));
    else if (free === 0 && j === 1) least = Math.ceil(sum / run);
    ranges.push([least, Math.min(cap, Math.floor(sum / j))]);
  }
  return ranges.every(([least, most]) => least < most && (least === 0 || most >= threshold));
}
