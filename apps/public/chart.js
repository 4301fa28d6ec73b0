// A small time-series chart on a <canvas>, drawn by hand: a time axis (clock time), round y ticks with units, lines
// broken where samples are missing, a shaded span where data has stopped coming, markers, and a hover crosshair.

/** Units a chart's values are in: `si` values get k/M/G prefixes; `integer` ones never get fractional ticks. */
export const UNITS = {
  count: { suffix: '', si: true, integer: true },
  perSecond: { suffix: '', si: true, integer: false },
  bytes: { suffix: 'B', si: true, integer: true },
  ms: { suffix: 'ms', si: false, integer: false },
  price: { suffix: '', si: false, integer: false },
};

const PREFIXES = [
  [1e9, 'G'],
  [1e6, 'M'],
  [1e3, 'k'],
];

/** Fewest decimals (≤ 3) that show `x` exactly, e.g. 0.25 → 2. */
function decimalsFor(x) {
  for (let d = 0; d < 3; d++) if (Math.abs(Math.round(x * 10 ** d) - x * 10 ** d) < 1e-6) return d;
  return 3;
}

/** A value with three significant digits and its unit: 1250 B → '1.25 kB', 0.4 → '0.4', 12 ms → '12 ms'. */
export function human(v, unit = UNITS.perSecond) {
  if (!Number.isFinite(v)) return '–';
  const abs = Math.abs(v);
  const [scale, prefix] = (unit.si && PREFIXES.find(([n]) => abs >= n)) || [1, ''];
  const x = v / scale;
  const digits = Math.abs(x) >= 100 || (scale === 1 && unit.integer) ? 0 : Math.abs(x) >= 10 ? 1 : 2;
  const text = Number(x.toFixed(digits)).toString();
  const suffix = `${prefix}${unit.suffix}`;
  return suffix ? `${text} ${suffix}` : text;
}

/** Tick labels on one axis share a prefix and show as many decimals as the step needs: 1.25 kB, not 1.3 kB. */
export function tickFormat(step, top, unit) {
  const [scale, prefix] = (unit.si && PREFIXES.find(([n]) => Math.abs(top) >= n)) || [1, ''];
  const digits = decimalsFor(step / scale);
  const suffix = `${prefix}${unit.suffix}`;
  return (v) => `${v === 0 ? '0' : (v / scale).toFixed(digits)}${suffix ? ` ${suffix}` : ''}`;
}

/** Round ticks covering [lo, hi]: a step of 1, 2, 2.5 or 5 × 10^k, at most `count` + 1 of them. */
export function niceTicks(lo, hi, count, integer) {
  const span = hi - lo || Math.abs(hi) || 1;
  const raw = span / Math.max(1, count);
  const mag = 10 ** Math.floor(Math.log10(raw));
  let step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw * (1 - 1e-9)) ?? 10 * mag;
  if (integer) step = Math.max(1, Math.round(step));
  const first = Math.floor(lo / step + 1e-9) * step;
  const last = Math.ceil(hi / step - 1e-9) * step;
  const ticks = [];
  for (let v = first; v <= last + step / 2; v += step) ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  if (ticks.length < 2) ticks.push(first + step);
  return { step, ticks };
}

const TIME_STEPS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800].map((s) => s * 1000);

/** A time of day in the reader's own format, to the second unless `seconds` is false. */
export function clockTime(t, seconds = true) {
  return new Date(t).toLocaleTimeString([], {
    hour: '2-digit',
    minute: '2-digit',
    ...(seconds && { second: '2-digit' }),
  });
}

/**
 * Draws `series` between times `from` and `to` (ms) and returns what hit-testing needs (`timeAt(x)`).
 *
 * @param {HTMLCanvasElement} canvas
 * @param {{ points: [number, number][], color: string }[]} series points are [time, value], oldest first
 * @param {{ from: number, to: number, unit?: object, zero?: boolean, axes?: boolean, gapMs?: number,
 *   staleAfter?: number, hover?: number | null, markers?: { t: number, label: string }[] }} options
 */
export function drawChart(canvas, series, options) {
  const { from, to } = options;
  const unit = options.unit ?? UNITS.perSecond;
  const axes = options.axes !== false;
  const dpr = window.devicePixelRatio || 1;
  const width = canvas.clientWidth;
  const height = canvas.clientHeight;
  if (canvas.width !== Math.round(width * dpr) || canvas.height !== Math.round(height * dpr)) {
    canvas.width = Math.round(width * dpr);
    canvas.height = Math.round(height * dpr);
  }
  const ctx = canvas.getContext('2d');
  ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
  ctx.clearRect(0, 0, width, height);
  ctx.font = '11px system-ui, sans-serif';

  const visible = series.map((s) => ({ ...s, points: s.points.filter(([t]) => t >= from - (options.gapMs ?? 0)) }));
  const values = visible.flatMap((s) => s.points.map(([, v]) => v)).filter(Number.isFinite);
  let lo = values.length ? Math.min(...values) : 0;
  let hi = values.length ? Math.max(...values) : 1;
  if (options.zero !== false) lo = Math.min(0, lo);
  if (hi === lo) {
    hi += hi === 0 ? 1 : Math.abs(hi) * 0.05;
    if (options.zero === false) lo -= Math.abs(lo) * 0.05;
  }
  const rows = Math.max(2, Math.min(6, Math.floor(height / 55)));
  const { step, ticks } = niceTicks(lo, hi + (hi - lo) * 0.04, rows, unit.integer);
  if (axes) {
    lo = ticks[0];
    hi = ticks.at(-1);
  } else {
    const pad = (hi - lo) * 0.1;
    lo -= pad;
    hi += pad;
  }
  const format = tickFormat(step, Math.max(Math.abs(lo), Math.abs(hi)), unit);

  const left = axes ? Math.ceil(Math.max(...ticks.map((v) => ctx.measureText(format(v)).width))) + 10 : 1;
  const top = axes ? 6 : 2;
  const bottom = height - (axes ? 20 : 2);
  const right = width - (axes ? 8 : 1);
  const x = (t) => left + ((right - left) * (t - from)) / (to - from);
  const y = (v) => bottom - ((bottom - top) * (v - lo)) / (hi - lo || 1);

  if (axes) {
    ctx.lineWidth = 1;
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const v of ticks) {
      const py = Math.round(y(v)) + 0.5;
      ctx.strokeStyle = v === 0 ? '#c9ced8' : '#eceef3';
      ctx.beginPath();
      ctx.moveTo(left, py);
      ctx.lineTo(right, py);
      ctx.stroke();
      ctx.fillStyle = '#5f687a';
      ctx.fillText(format(v), left - 6, py);
    }
    // Time ticks far enough apart for their labels.
    const labelWidth = ctx.measureText(clockTime(to)).width + 18;
    const tStep = TIME_STEPS.find((s) => ((right - left) * s) / (to - from) >= labelWidth) ?? TIME_STEPS.at(-1);
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    let labelsEnd = Number.NEGATIVE_INFINITY;
    for (let t = Math.ceil(from / tStep) * tStep; t <= to; t += tStep) {
      const px = Math.round(x(t)) + 0.5;
      ctx.strokeStyle = '#eceef3';
      ctx.beginPath();
      ctx.moveTo(px, top);
      ctx.lineTo(px, bottom + 3);
      ctx.stroke();
      // A label kept inside the plot, unless that would run it into the one before.
      const label = clockTime(t, tStep < 60_000);
      const half = ctx.measureText(label).width / 2;
      const cx = Math.min(Math.max(px, left + half), right - half);
      if (cx - half < labelsEnd + 8) continue;
      ctx.fillStyle = '#5f687a';
      ctx.fillText(label, cx, bottom + 5);
      labelsEnd = cx + half;
    }
  }

  ctx.save();
  ctx.beginPath();
  ctx.rect(left, 0, right - left, height);
  ctx.clip();
  // Where data should have come and did not: shaded, so a frozen chart cannot pass for a quiet one.
  const newest = Math.max(...visible.map((s) => s.points.at(-1)?.[0] ?? -Infinity));
  if (options.staleAfter !== undefined && to - newest > options.staleAfter) {
    const sx = Number.isFinite(newest) ? Math.max(left, x(newest)) : left;
    ctx.fillStyle = 'rgba(200, 50, 58, 0.07)';
    ctx.fillRect(sx, top, right - sx, bottom - top);
    if (axes && right - sx > 60) {
      ctx.fillStyle = '#c8323a';
      ctx.textAlign = 'center';
      ctx.textBaseline = 'top';
      ctx.fillText('no data', (sx + right) / 2, top + 4);
    }
  }
  for (const m of options.markers ?? []) {
    if (m.t < from || m.t > to) continue;
    const px = Math.round(x(m.t)) + 0.5;
    ctx.strokeStyle = '#9aa2b1';
    ctx.setLineDash([4, 3]);
    ctx.beginPath();
    ctx.moveTo(px, top);
    ctx.lineTo(px, bottom);
    ctx.stroke();
    ctx.setLineDash([]);
    if (axes) {
      ctx.fillStyle = '#5f687a';
      ctx.textAlign = 'left';
      ctx.textBaseline = 'top';
      ctx.fillText(m.label, px + 4, top + 4);
    }
  }

  ctx.lineJoin = 'round';
  ctx.lineWidth = axes ? 2 : 1.5;
  for (const s of visible) {
    ctx.strokeStyle = s.color;
    ctx.beginPath();
    let prev = null;
    for (const [t, v] of s.points) {
      if (!Number.isFinite(v)) {
        prev = null;
        continue;
      }
      // A missing sample (offline, restart) is a break in the line, never a straight line across.
      if (prev === null || (options.gapMs !== undefined && t - prev > options.gapMs)) ctx.moveTo(x(t), y(v));
      else ctx.lineTo(x(t), y(v));
      prev = t;
    }
    ctx.stroke();
  }

  if (options.hover != null && options.hover >= from && options.hover <= to) {
    const px = Math.round(x(options.hover)) + 0.5;
    ctx.strokeStyle = '#1d2330';
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(px, top);
    ctx.lineTo(px, bottom);
    ctx.stroke();
    for (const s of visible) {
      const p = nearest(s.points, options.hover, options.gapMs);
      if (!p) continue;
      ctx.fillStyle = s.color;
      ctx.beginPath();
      ctx.arc(x(p[0]), y(p[1]), 3.5, 0, 2 * Math.PI);
      ctx.fill();
    }
  }
  ctx.restore();
  return { timeAt: (px) => from + ((px - left) / (right - left)) * (to - from) };
}

/** The point nearest to time `t`, if one is within `within` ms of it. */
export function nearest(points, t, within = Number.POSITIVE_INFINITY) {
  let best = null;
  for (const p of points) if (best === null || Math.abs(p[0] - t) < Math.abs(best[0] - t)) best = p;
  return best && Math.abs(best[0] - t) <= within ? best : null;
}
