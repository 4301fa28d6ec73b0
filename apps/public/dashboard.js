// The dashboard page: keeps the last samples pushed on ws /dashboard and redraws its charts on each one.
import { drawChart, human } from './chart.js';
import { reconnecting, showState } from './reconnect.js';

/** Samples drawn: the last minute at one a second. */
const CAPACITY = 60;
const $ = (id) => document.getElementById(id);
/** @type {any[]} */
let samples = [];

reconnecting('/dashboard', {
  onState: (state, detail) => showState($('status'), state, detail),
  onMessage(event) {
    document.body.dataset.samples = String(Number(document.body.dataset.samples) + 1);
    if (event.type === 'history') samples = event.samples.slice(-CAPACITY);
    else if (event.type === 'sample') {
      samples.push(event);
      if (samples.length > CAPACITY) samples.shift();
    } else return;
    render();
  },
});

const col = (key) => samples.map((s) => s[key]);
const mb = (v) => `${(v / 1e6).toFixed(0)} MB`;
const rows = new Map();

function render() {
  const last = samples.at(-1);
  if (!last) return;
  $('connections').textContent = String(last.connections);
  $('by-endpoint').textContent = Object.entries(last.byEndpoint)
    .filter(([, n]) => n > 0)
    .map(([name, n]) => `${name} ${n}`)
    .join(' · ');
  if (last.byTransport) {
    $('by-transport').textContent =
      `HTTP/2 ${last.byTransport.h2 ?? 0} · HTTP/1.1 ${last.byTransport['http/1.1'] ?? 0}`;
  }
  $('message-rate').textContent = `${human(last.messagesInPerSec)} / ${human(last.messagesOutPerSec)}`;
  $('byte-rate').textContent = `${human(last.bytesInPerSec, 'B')} / ${human(last.bytesOutPerSec, 'B')}`;
  $('memory').textContent = `${mb(last.rss)} / ${mb(last.heapUsed)}`;
  $('lag').textContent = `${last.loopLagMeanMs.toFixed(1)} / ${last.loopLagMaxMs.toFixed(1)} ms`;

  const opts = { capacity: CAPACITY };
  drawChart($('connections-chart'), [{ values: col('connections'), color: '#2f6fdf' }], {
    ...opts,
    format: (v) => v.toFixed(0),
  });
  drawChart(
    $('messages-chart'),
    [
      { values: col('messagesInPerSec'), color: '#2f6fdf' },
      { values: col('messagesOutPerSec'), color: '#e0702a' },
    ],
    { ...opts, format: (v) => human(Math.round(v)) },
  );
  drawChart(
    $('bytes-chart'),
    [
      { values: col('bytesInPerSec'), color: '#2f6fdf' },
      { values: col('bytesOutPerSec'), color: '#e0702a' },
    ],
    { ...opts, format: (v) => human(Math.round(v), 'B') },
  );
  drawChart(
    $('memory-chart'),
    [
      { values: col('rss'), color: '#7a4fd0' },
      { values: col('heapUsed'), color: '#1e9e5a' },
    ],
    { ...opts, format: mb },
  );
  drawChart(
    $('lag-chart'),
    [
      { values: col('loopLagMeanMs'), color: '#1e9e5a' },
      { values: col('loopLagMaxMs'), color: '#d0393e' },
    ],
    { ...opts, format: (v) => `${v.toFixed(1)} ms` },
  );
  renderTicker();
}

function renderTicker() {
  const first = samples[0].prices;
  const last = samples.at(-1).prices;
  for (const symbol of Object.keys(last)) {
    let row = rows.get(symbol);
    if (!row) {
      const el = document.createElement('div');
      el.className = 'ticker';
      el.dataset.symbol = symbol;
      const name = document.createElement('strong');
      name.textContent = symbol;
      row = {
        price: document.createElement('span'),
        change: document.createElement('span'),
        canvas: document.createElement('canvas'),
      };
      row.price.className = 'price';
      el.append(name, row.price, row.change, row.canvas);
      $('ticker').append(el);
      rows.set(symbol, row);
    }
    const change = ((last[symbol] - first[symbol]) / first[symbol]) * 100;
    row.price.textContent = last[symbol].toFixed(2);
    row.change.textContent = `${change >= 0 ? '+' : ''}${change.toFixed(2)}%`;
    row.change.className = change >= 0 ? 'up' : 'down';
    drawChart(
      row.canvas,
      [{ values: samples.map((s) => s.prices[symbol]), color: change >= 0 ? '#1e9e5a' : '#d0393e' }],
      {
        capacity: CAPACITY,
        zero: false,
        axis: false,
      },
    );
  }
}

window.addEventListener('resize', () => samples.length > 0 && render());
