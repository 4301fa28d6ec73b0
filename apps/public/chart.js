// A small line chart on a <canvas>: a few series over the same time steps, auto-scaled, crisp on HiDPI screens.

/**
 * @param {HTMLCanvasElement} canvas
 * @param {{ values: number[], color: string }[]} series
 * @param {{ format?: (v: number) => string, zero?: boolean, axis?: boolean, capacity?: number }} [options]
 */
export function drawChart(canvas, series, options = {}) {
  const format = options.format ?? String;
  const capacity = options.capacity ?? 60;
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

  const all = series.flatMap((s) => s.values).filter(Number.isFinite);
  if (all.length === 0) return;
  let lo = options.zero === false ? Math.min(...all) : Math.min(0, ...all);
  let hi = Math.max(...all);
  if (hi === lo) {
    hi += hi === 0 ? 1 : Math.abs(hi) * 0.05;
    if (options.zero === false) lo -= Math.abs(lo) * 0.05;
  }
  const pad = (hi - lo) * 0.08;
  if (options.zero === false) {
    hi += pad;
    lo -= pad;
  } else {
    hi = niceCeil(hi + pad); // so the axis labels are round numbers
  }

  const axis = options.axis !== false;
  const ticks = axis ? [0, 1, 2].map((k) => lo + ((hi - lo) * k) / 2) : [];
  ctx.font = '10px system-ui, sans-serif';
  // The plot starts right of the widest axis label.
  const left = axis ? Math.ceil(Math.max(...ticks.map((v) => ctx.measureText(format(v)).width))) + 10 : 1;
  const top = 4;
  const bottom = height - 4;
  const right = width - 2;
  const x = (i) => left + ((right - left) * i) / Math.max(1, capacity - 1);
  const y = (v) => bottom - ((bottom - top) * (v - lo)) / (hi - lo);

  ctx.textAlign = 'right';
  ctx.textBaseline = 'middle';
  ctx.lineWidth = 1;
  for (const v of ticks) {
    const py = Math.round(y(v)) + 0.5;
    ctx.strokeStyle = '#e6e9ef';
    ctx.beginPath();
    ctx.moveTo(left, py);
    ctx.lineTo(right, py);
    ctx.stroke();
    ctx.fillStyle = '#6b7385';
    ctx.fillText(format(v), left - 6, Math.min(Math.max(py, top + 5), bottom - 5));
  }

  ctx.lineJoin = 'round';
  ctx.lineWidth = axis ? 2 : 1.5;
  for (const s of series) {
    const values = s.values.slice(-capacity);
    const offset = capacity - values.length; // newest on the right edge
    ctx.strokeStyle = s.color;
    ctx.beginPath();
    values.forEach((v, i) => {
      if (i === 0) ctx.moveTo(x(offset + i), y(v));
      else ctx.lineTo(x(offset + i), y(v));
    });
    ctx.stroke();
  }
}

/** The smallest of 1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8 × 10^k that is ≥ v (for v > 0). */
function niceCeil(v) {
  if (!(v > 0)) return 1;
  const scale = 10 ** Math.floor(Math.log10(v));
  const step = [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10].find((m) => m * scale >= v * (1 - 1e-9)) ?? 10;
  return step * scale;
}

/** 1234567 → '1.2 M', with an optional unit. */
export function human(v, unit = '') {
  const abs = Math.abs(v);
  for (const [n, p] of [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ]) {
    if (abs >= n) return `${(v / n).toFixed(abs >= n * 100 ? 0 : 1)} ${p}${unit}`;
  }
  return `${Number.isInteger(v) ? v : v.toFixed(1)}${unit ? ` ${unit}` : ''}`;
}
