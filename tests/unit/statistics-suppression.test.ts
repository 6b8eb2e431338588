import { suppressBreakdown, suppressCoverage, suppressDoseNumbers, suppressNested, suppressSeries } from '../../src/services/statistics.suppression';
import { breakdownLeaks, orderedDoseLeaks, seriesLeaks } from '../helpers/disclosure';

function random(seed: number) {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2147483648;
    return s / 2147483648;
  };
}

describe('small-cell suppression', () => {
  it('suppresses cells below the threshold and publishes the rest as they are', () => {
    expect(suppressBreakdown([{ label: 'a', value: 120 }, { label: 'b', value: 45 }, { label: 'c', value: 30 }], 10).map((c) => c.value)).toEqual([120, 45, 30]);
    const out = suppressBreakdown([{ label: 'a', value: 120 }, { label: 'b', value: 6 }, { label: 'c', value: 5 }, { label: 'd', value: 40 }], 10);
    expect(out.map((c) => [c.value, c.suppressed])).toEqual([[120, false], [null, true], [null, true], [40, false]]);
  });

  it('suppresses the next-smallest cell when one suppressed cell could be recovered from the total', () => {
    const out = suppressBreakdown([{ label: 'a', value: 120 }, { label: 'b', value: 4 }, { label: 'c', value: 35 }, { label: 'd', value: 50 }], 10);
    expect(out.map((c) => c.value)).toEqual([120, null, null, 50]);
  });

  it('suppresses more when the suppressed cells together are still small', () => {
    const out = suppressBreakdown([{ label: 'a', value: 1 }, { label: 'b', value: 2 }, { label: 'c', value: 35 }, { label: 'd', value: 50 }], 10);
    expect(out.map((c) => c.value)).toEqual([null, null, null, 50]);
  });

  it('never lets the published cells and the total determine a suppressed cell (random breakdowns)', () => {
    const next = random(42);
    for (let round = 0; round < 5000; round++) {
      const threshold = 1 + Math.floor(next() * 12);
      const values = Array.from({ length: 1 + Math.floor(next() * 8) }, () => Math.floor(next() ** 3 * 60));
      const out = suppressBreakdown(values.map((value, i) => ({ label: String(i), value })), threshold);
      const total = values.reduce((a, b) => a + b, 0);
      expect([round, breakdownLeaks(out.map((c) => c.value), total, threshold)]).toEqual([round, []]);
      out.forEach((c, i) => c.value !== null && expect(c.value).toBe(values[i]));
    }
  });

  it('never lets running totals reveal a suppressed day (random series)', () => {
    const next = random(7);
    for (let round = 0; round < 3000; round++) {
      const threshold = 2 + Math.floor(next() * 10);
      const values = Array.from({ length: 1 + Math.floor(next() * 30) }, () => Math.floor(next() ** 2 * 40));
      const series = suppressSeries(values.map((value, i) => ({ label: String(i), value })), threshold);
      const total = values.reduce((a, b) => a + b, 0);
      expect([round, seriesLeaks(series, total, threshold)]).toEqual([round, []]);
      let running = 0;
      series.forEach((d, i) => {
        running += values[i];
        if (!d.count.suppressed) expect(d.count.value).toBe(values[i]);
        if (!d.cumulative.suppressed) expect(d.cumulative.value).toBe(running);
      });
    }
  });

  it('publishes nested coverage figures only where their differences, and the population\'s, are not small', () => {
    const cells = (values: number[]) => values.map((value, i) => ({ label: String(i + 1), value }));
    // 25 with a dose and 24 with two, of 30: one person with exactly one dose, five with none.
    expect(suppressNested(cells([25, 24]), 30, 10).map((c) => c.value)).toEqual([null, null]);
    expect(suppressNested(cells([80, 60, 20]), 100, 10).map((c) => c.value)).toEqual([80, 60, 20]);
    // 3 with exactly two doses: 63 is withdrawn, and 80 − 60 spans that group and the 17 with one dose.
    expect(suppressNested(cells([80, 63, 60, 20]), 100, 10).map((c) => c.value)).toEqual([80, null, 60, 20]);
  });

  it('never lets nested figures and the population single out a group (random coverage)', () => {
    const next = random(11);
    for (let round = 0; round < 3000; round++) {
      const threshold = 2 + Math.floor(next() * 10);
      const population = Math.floor(next() * 200);
      const values: number[] = [];
      for (let left = population, n = Math.floor(next() * 6); n > 0; n--) values.push((left = Math.floor(left * next() ** 0.3)));
      const published = suppressNested(values.map((value, i) => ({ label: String(i + 1), value })), population, threshold);
      published.forEach((c, i) => expect([round, c.suppressed || c.value === values[i]]).toEqual([round, true]));
      // Every figure derivable by subtraction: between published neighbours, from nought, and to the population.
      const chain = [0, ...published.filter((c) => !c.suppressed).map((c) => c.value!).reverse(), ...(population >= threshold ? [population] : [])];
      for (let i = 1; i < chain.length; i++) expect([round, chain[i] - chain[i - 1] >= threshold]).toEqual([round, true]);
    }
  });

  it('hides a dose number in coverage and in the dose breakdown alike, safe under both rules (random areas)', () => {
    const next = random(23);
    for (let round = 0; round < 3000; round++) {
      const threshold = 2 + Math.floor(next() * 10);
      const population = Math.floor(next() * 200);
      const people: number[] = [];
      // At least two dose numbers: the country has had several since 2021 (with one, the breakdown is the total).
      for (let left = population, n = 2 + Math.floor(next() * 4); n > 0; n--) people.push((left = Math.floor(left * next() ** 0.3)));
      // Usually the same counts (no one moved away, no inquiry copies), sometimes a few more doses given.
      const doses = people.map((v) => (next() < 0.7 ? v : v + Math.floor(next() * 5)));
      const hidden = suppressDoseNumbers(people, population, doses, threshold);
      // The breakdown rule for the doses given ...
      const total = doses.reduce((a, b) => a + b, 0);
      expect([round, breakdownLeaks(doses.map((v, i) => (hidden.has(i) ? null : v)), total, threshold)]).toEqual([round, []]);
      // ... and the nested rule for coverage, over the same published dose numbers.
      const chain = [0, ...people.filter((_, i) => !hidden.has(i)).reverse(), ...(population >= threshold ? [population] : [])];
      for (let i = 1; i < chain.length; i++) expect([round, chain[i] - chain[i - 1] >= threshold]).toEqual([round, true]);
    }
  });

  it('hides every dose number from the lowest hidden one up, so that the order of the counts pins none', () => {
    // 20 people with four doses, one with exactly two, 15 with one, 20 with none: coverage hides 2 and 3.
    const people = [36, 21, 20, 20];
    const hidden = suppressDoseNumbers(people, 56, people, 10);
    expect([...hidden].sort()).toEqual([1, 2, 3]);
    expect(orderedDoseLeaks(people.map((v, i) => (hidden.has(i) ? null : v)), 97, 10, 0)).toEqual([]);
    // From 2021-06-15, after every first dose and before any second: dose numbers 2 to 4 are ordered still.
    const inRange = [0, 21, 20, 20];
    const closed = suppressDoseNumbers(people, 56, inRange, 10, 1);
    expect([...closed].sort()).toEqual([0, 1, 2, 3]);
    // A closed range that began after the first doses of every series orders nothing: only the small cells go.
    expect([...suppressDoseNumbers([60, 40, 20, 10], 80, [12, 30, 40, 3], 10, 4)].sort()).toEqual([0, 3]);
  });

  it('publishes coverage as of the end of a closed range whatever doses the range holds below the ordered ones', () => {
    // 9,000 of 10,000 with a first dose, 8,500 with two, 6,000 with three; the range holds 900 third
    // doses and no first or second one. The breakdown hides all three (the third would leave the other
    // two at nought), but the first two are counted from the start by coverage only.
    const hidden = suppressDoseNumbers([9000, 8500, 6000], 10000, [0, 0, 900], 10, 2);
    expect([...hidden].sort()).toEqual([0, 1, 2]);
    expect([...suppressCoverage([9000, 8500, 6000], 10000, hidden, 10, 2)]).toEqual([2]);
    // Without a start date the two lists count the same doses: one decision.
    expect([...suppressCoverage([36, 21, 20, 20], 56, suppressDoseNumbers([36, 21, 20, 20], 56, [36, 21, 20, 20], 10), 10)].sort()).toEqual([1, 2, 3]);
  });

  it('hides a dose number where the two lists, or two dose numbers, differ by a few people', () => {
    // 30 with two doses, 20 with one, 20 with none, and one with two doses died: 50 first doses, 49 residents with one.
    expect([...suppressDoseNumbers([49, 29, 0, 0], 69, [50, 30, 0, 0], 10)].sort()).toEqual([0, 1, 2, 3]);
    // 16 who left had a dose and 15 two: doses 1 and 2 (76 and 55, beside 60 and 40) would say one had exactly one.
    expect([...suppressDoseNumbers([60, 40, 10, 5], 80, [76, 55, 10, 5], 10)].sort()).toEqual([1, 2, 3]);
    // Residents who came with doses copied in by inquiry count in coverage only: 30 first doses given
    // here and 25 second ones (beside 60 and 40 residents) would say that five stopped after one.
    expect([...suppressDoseNumbers([60, 40, 20, 10], 80, [30, 25, 20, 10], 10)].sort()).toEqual([1, 2, 3]);
    // Differences of nought or of at least the threshold say nothing about anyone in particular.
    expect([...suppressDoseNumbers([60, 40, 20, 10], 80, [60, 40, 20, 10], 10)]).toEqual([]);
    expect([...suppressDoseNumbers([60, 40, 20, 10], 80, [90, 60, 30, 10], 10)]).toEqual([]);
  });

  it('never lets the order of dose numbers, or the residents who left, single out anyone (random areas)', () => {
    const next = random(31);
    for (let round = 0; round < 3000; round++) {
      const threshold = 2 + Math.floor(next() * 7);
      const length = 2 + Math.floor(next() * 4);
      // Without a start date every dose number is ordered; a closed range orders those above the series begun before it.
      const ordered = next() < 0.5 ? 0 : Math.floor(next() * (length + 1));
      const population = Math.floor(next() * 60);
      const people: number[] = [];
      for (let left = population, n = length; n > 0; n--) people.push((left = Math.floor(left * next() ** 0.3)));
      // Counted from the start the doses add those of residents who left since (fewer for each later dose).
      let gone = Math.floor(next() ** 2 * 12);
      const doses = people.map((v, i) => (i < ordered ? Math.floor(next() ** 2 * 30) : v + (gone = Math.floor(gone * next() ** 0.5))));
      const hidden = suppressDoseNumbers(people, population, doses, threshold, ordered);
      const total = doses.reduce((a, b) => a + b, 0);
      const published = doses.map((v, i) => (hidden.has(i) ? null : v));
      expect([round, breakdownLeaks(published, total, threshold)]).toEqual([round, []]);
      // With every dose number hidden only the total is left, which the breakdown cannot help.
      if (hidden.size < length) expect([round, doses, ordered, orderedDoseLeaks(published, total, threshold, ordered)]).toEqual([round, doses, ordered, []]);
      for (let i = ordered + 1; i < length; i++) if (hidden.has(i - 1)) expect([round, i, hidden.has(i)]).toEqual([round, i, true]);
      // Coverage: nested, and hidden with the breakdown where that counts from the start.
      const hiddenPeople = suppressCoverage(people, population, hidden, threshold, ordered);
      const chain = [0, ...people.filter((_, i) => !hiddenPeople.has(i)).reverse(), ...(population >= threshold ? [population] : [])];
      for (let i = 1; i < chain.length; i++) expect([round, chain[i] - chain[i - 1] >= threshold]).toEqual([round, true]);
      for (let i = ordered; i < length; i++) expect([round, i, hiddenPeople.has(i)]).toEqual([round, i, hidden.has(i)]);
      // What the two lists differ by, and how that changes between dose numbers both publish, is nought or not small.
      const shown = doses.flatMap((_, i) => (hidden.has(i) ? [] : [i]));
      const both = shown.filter((i) => !hiddenPeople.has(i));
      const small = (d: number) => d !== 0 && Math.abs(d) < threshold;
      for (const b of both) {
        expect([round, b, small(doses[b] - people[b])]).toEqual([round, b, false]);
        for (const a of both.filter((a) => a < b)) expect([round, a, b, small(doses[a] - people[a] - (doses[b] - people[b]))]).toEqual([round, a, b, false]);
      }
      for (const b of shown) for (const a of shown.filter((a) => a >= ordered && a < b)) expect([round, a, b, small(doses[a] - doses[b])]).toEqual([round, a, b, false]);
    }
  });
});
