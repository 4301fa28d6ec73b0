// The dashboard's number formatting and axis ticks (apps/public/chart.js, a browser module with no DOM use in these
// functions): three significant digits with units, round ticks, and tick labels as precise as their step.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';

interface Unit {
  suffix: string;
  si: boolean;
  integer: boolean;
}
interface ChartModule {
  UNITS: Record<'count' | 'perSecond' | 'bytes' | 'ms' | 'price', Unit>;
  human(v: number, unit?: Unit): string;
  niceTicks(lo: number, hi: number, count: number, integer: boolean): { step: number; ticks: number[] };
  tickFormat(step: number, top: number, unit: Unit): (v: number) => string;
}

const chart = (await import(new URL('../../../apps/public/chart.js', import.meta.url).href)) as ChartModule;
const { UNITS } = chart;

describe('dashboard chart formatting', () => {
  test('values: three significant digits and a unit prefix, whole bytes and counts', () => {
    assert.equal(chart.human(1250, UNITS.bytes), '1.25 kB');
    assert.equal(chart.human(275.2, UNITS.bytes), '275 B');
    assert.equal(chart.human(0, UNITS.bytes), '0 B');
    assert.equal(chart.human(138_400_000, UNITS.bytes), '138 MB');
    assert.equal(chart.human(43_600_000, UNITS.bytes), '43.6 MB');
    assert.equal(chart.human(3, UNITS.count), '3');
    assert.equal(chart.human(0.4), '0.4');
    assert.equal(chart.human(12.5), '12.5');
    assert.equal(chart.human(1_500_000), '1.5 M');
    assert.equal(chart.human(Number.NaN), '–');
  });

  test('ticks: steps of 1, 2, 2.5 or 5 × 10^k covering the range; never fractional for counts', () => {
    assert.deepEqual(chart.niceTicks(0, 1250, 5, true), { step: 250, ticks: [0, 250, 500, 750, 1000, 1250] });
    assert.deepEqual(chart.niceTicks(0, 3, 4, true).ticks, [0, 1, 2, 3]);
    assert.deepEqual(chart.niceTicks(0, 2, 6, true), { step: 1, ticks: [0, 1, 2] });
    assert.deepEqual(chart.niceTicks(0, 0.9, 3, false), { step: 0.5, ticks: [0, 0.5, 1] });
    for (const [lo, hi] of [
      [0, 7],
      [12.1, 12.9],
      [0, 137e6],
    ] as const) {
      const { step, ticks } = chart.niceTicks(lo, hi, 4, false);
      assert.ok(ticks[0]! <= lo && ticks.at(-1)! >= hi, `${ticks} covers ${lo}..${hi}`);
      assert.match(String(step / 10 ** Math.floor(Math.log10(step))), /^(1|2|2\.5|5)$/);
    }
  });

  test('tick labels: one prefix per axis, as many decimals as the step needs ("1.25 kB", not "1.3 kB")', () => {
    const bytes = chart.tickFormat(250, 1250, UNITS.bytes);
    assert.deepEqual([0, 250, 1000, 1250].map(bytes), ['0 kB', '0.25 kB', '1.00 kB', '1.25 kB']);
    const mb = chart.tickFormat(50e6, 200e6, UNITS.bytes);
    assert.deepEqual([0, 50e6, 150e6].map(mb), ['0 MB', '50 MB', '150 MB']);
    const ms = chart.tickFormat(2.5, 10, UNITS.ms);
    assert.deepEqual([0, 2.5, 10].map(ms), ['0 ms', '2.5 ms', '10.0 ms']);
  });
});
