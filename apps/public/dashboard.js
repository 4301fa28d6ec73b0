// The dashboard page: keeps the samples pushed on ws /dashboard (the server sends its recent ones on every
// (re)connect, merged here by time), and draws them against a clock axis; hovering a chart reads out that instant.
import { clockTime, drawChart, human, nearest, UNITS } from './chart.js';
import { connectionView, reconnecting } from './reconnect.js';

/** Samples kept: the longest window shown. */
const KEEP_MS = 5 * 60_000;
const $ = (id) => document.getElementById(id);
/** @type {any[]} oldest first, one per time */
let samples = [];
let interval = 1000;
/** The server's clock minus ours, so the right edge of the charts is the server's "now". */
let skew = null;
/** When each server we were connected to started: a start after our oldest sample is a restart, marked. */
const starts = new Set();
let windowMs = 60_000;
let hover = null;
let open = false;
let lastRender = 0;

function merge(list) {
  const byTime = new Map(samples.map((s) => [s.t, s]));
  for (const s of list) byTime.set(s.t, s);
  const oldest = now() - KEEP_MS - 10 * interval;
  samples = [...byTime.values()].filter((s) => s.t >= oldest).sort((a, b) => a.t - b.t);
}

const now = () => Date.now() + (skew ?? 0);
const series = (key) => samples.map((s) => [s.t, s[key]]);

const BLUE = '#2f6fdf';
const ORANGE = '#e0702a';
const GREEN = '#1e9e5a';
const RED = '#d0393e';
/**
 * The chart cards (by their data-chart): the unit, the lines (sample key, colour), and the note beside the value,
 * which shows the lines' values at the instant shown.
 */
const CARDS = [
  {
    name: 'connections',
    unit: UNITS.count,
    lines: [['connections', BLUE]],
    note: (s) =>
      Object.entries(s.byEndpoint)
        .filter(([, n]) => n > 0)
        .map(([name, n]) => `${name} ${n}`)
        .join(' · '),
  },
  {
    name: 'messages',
    unit: UNITS.perSecond,
    lines: [
      ['messagesInPerSec', BLUE],
      ['messagesOutPerSec', ORANGE],
    ],
    note: () => 'in / out',
  },
  {
    name: 'bytes',
    unit: UNITS.bytes,
    lines: [
      ['bytesInPerSec', BLUE],
      ['bytesOutPerSec', ORANGE],
    ],
    note: () => 'in / out',
  },
  {
    name: 'memory',
    unit: UNITS.bytes,
    lines: [
      ['rss', '#7a4fd0'],
      ['heapUsed', GREEN],
    ],
    note: () => 'RSS / heap used',
  },
  {
    name: 'lag',
    unit: UNITS.ms,
    lines: [
      ['loopLagMeanMs', GREEN],
      ['loopLagMaxMs', RED],
    ],
    note: () => 'mean / max',
  },
].map((card) => {
  const el = document.querySelector(`[data-chart="${card.name}"]`);
  return { ...card, canvas: el.querySelector('canvas'), value: el.querySelector('.value') };
});
/** Each chart's hit-testing, from its last drawing. */
const layouts = new Map();

function render() {
  lastRender = Date.now();
  const to = now();
  const gapMs = 2.5 * interval;
  // While there is less data than the window (a server just started), the charts span what there is.
  const from = Math.max(to - windowMs, Math.min(samples[0]?.t ?? to, to - 10 * interval));
  const last = samples.at(-1);
  const stale = !open || !last || to - last.t > gapMs;
  if (stale) document.body.dataset.stale = '';
  else delete document.body.dataset.stale;
  // For tests: how many samples are kept, over what time, and how many holes the lines have.
  document.body.dataset.points = String(samples.length);
  document.body.dataset.first = String(samples[0]?.t ?? '');
  document.body.dataset.last = String(last?.t ?? '');
  document.body.dataset.gaps = String(samples.filter((s, i) => i > 0 && s.t - samples[i - 1].t > gapMs).length);
  const oldest = samples[0]?.t ?? to;
  const markers = [...starts].filter((t) => t > oldest).map((t) => ({ t, label: 'restart' }));
  const shown = hover === null ? last : (nearestSample(hover, gapMs) ?? last);
  const common = { from, to, gapMs, staleAfter: gapMs, hover, markers };

  for (const card of CARDS) {
    const lines = card.lines.map(([key, color]) => ({ points: series(key), color }));
    layouts.set(card.canvas, drawChart(card.canvas, lines, { ...common, unit: card.unit }));
    if (!shown) continue;
    card.value.querySelector('span').textContent = card.lines.map(([key]) => human(shown[key], card.unit)).join(' / ');
    card.value.classList.toggle('hovered', shown !== last);
    // The readout says which instant it shows whenever that is not the live one.
    const at = shown !== last ? `at ${clockTime(shown.t)}` : stale ? `as of ${clockTime(shown.t)}` : null;
    card.value.querySelector('small').textContent = at ?? card.note(shown);
  }
  renderTicker(common);
}

function nearestSample(t, within) {
  const p = nearest(
    samples.map((s) => [s.t, s]),
    t,
    within,
  );
  return p ? p[1] : null;
}

const rows = new Map();
function renderTicker(common) {
  const inWindow = samples.filter((s) => s.t >= common.from);
  const first = inWindow[0]?.prices;
  const last = samples.at(-1)?.prices;
  if (!first || !last) return;
  $('ticker-span').textContent = `change over ${windowMs / 60_000} min`;
  for (const symbol of Object.keys(last)) {
    let row = rows.get(symbol);
    if (!row) {
      const el = document.createElement('div');
      el.className = 'ticker';
      el.dataset.symbol = symbol;
      const name = document.createElement('strong');
      name.textContent = symbol;
      const plot = document.createElement('div');
      plot.className = 'plot';
      row = {
        price: document.createElement('span'),
        change: document.createElement('span'),
        canvas: document.createElement('canvas'),
      };
      row.price.className = 'price';
      plot.append(row.canvas);
      el.append(name, row.price, row.change, plot);
      $('ticker').append(el);
      rows.set(symbol, row);
    }
    const change = ((last[symbol] - first[symbol]) / first[symbol]) * 100;
    row.price.textContent = last[symbol].toFixed(2);
    row.change.textContent = `${change >= 0 ? '+' : ''}${change.toFixed(2)}%`;
    row.change.className = change >= 0 ? 'up' : 'down';
    const points = samples.map((s) => [s.t, s.prices[symbol]]);
    drawChart(row.canvas, [{ points, color: change >= 0 ? GREEN : RED }], {
      ...common,
      unit: UNITS.price,
      zero: false,
      axes: false,
    });
  }
}

// Hovering (or touching) any chart reads out that instant in every card.
for (const plot of document.querySelectorAll('.card .plot')) {
  plot.addEventListener('pointermove', (e) => {
    const layout = layouts.get(plot.querySelector('canvas'));
    if (!layout) return;
    hover = layout.timeAt(e.offsetX);
    render();
  });
  plot.addEventListener('pointerleave', () => {
    hover = null;
    render();
  });
}

for (const button of document.querySelectorAll('[data-window]')) {
  button.addEventListener('click', () => {
    windowMs = Number(button.dataset.window);
    for (const b of document.querySelectorAll('[data-window]')) b.setAttribute('aria-pressed', String(b === button));
    render();
  });
}

// The time axis moves on while no samples come, so a stopped feed shows as a growing blank, not a frozen chart.
setInterval(() => {
  if (Date.now() - lastRender >= 900) render();
}, 1000);
window.addEventListener('resize', () => render());

// Last: the socket reports its first state at once, and rendering needs everything above.
const showConnection = connectionView(
  { status: $('status'), banner: $('banner'), bannerText: $('banner-text'), retry: $('retry') },
  {
    retryNow: () => socket.retryNow(),
    note: () => {
      const last = samples.at(-1);
      return last ? `The charts show data up to ${clockTime(last.t)}.` : '';
    },
  },
);
const socket = reconnecting('/dashboard', {
  onState(state, detail) {
    open = state === 'open';
    showConnection(state, detail);
    render();
  },
  onMessage(event) {
    document.body.dataset.samples = String(Number(document.body.dataset.samples) + 1);
    if (event.type === 'history') {
      interval = event.interval ?? interval;
      starts.add(event.startedAt);
      merge(event.samples);
      if (skew === null && event.samples.length > 0) skew = event.samples.at(-1).t - Date.now();
    } else if (event.type === 'sample') {
      skew = event.t - Date.now();
      merge([event]);
    } else return;
    render();
  },
});
