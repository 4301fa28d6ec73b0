// A WebSocket to this page's own server that comes back by itself: exponential backoff with jitter after each
// failure, reset once a connection has stayed up; and the view of its state (status pill, offline banner, retry now).

/**
 * @param {string} path e.g. '/chat'
 * @param {{
 *   onOpen?: (info: { extensions: string }) => void,
 *   onMessage: (data: unknown) => void,
 *   onState: (state: 'connecting' | 'open' | 'waiting', detail: { attempt: number, delay?: number, code?: number, extensions?: string }) => void,
 *   baseDelay?: number,
 *   maxDelay?: number,
 * }} options
 */
export function reconnecting(path, options) {
  const baseDelay = options.baseDelay ?? 500;
  const maxDelay = options.maxDelay ?? 15_000;
  const STABLE_AFTER = 5_000;
  let ws = null;
  let attempt = 0;
  let openedAt = 0;
  let timer = null;

  const url = `${location.protocol === 'https:' ? 'wss:' : 'ws:'}//${location.host}${path}`;

  function open() {
    timer = null;
    options.onState('connecting', { attempt });
    ws = new WebSocket(url);
    ws.onopen = () => {
      openedAt = Date.now();
      options.onState('open', { attempt, extensions: ws.extensions });
      options.onOpen?.({ extensions: ws.extensions });
    };
    ws.onmessage = (event) => {
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      options.onMessage(data);
    };
    ws.onclose = (event) => {
      ws = null;
      // A connection that stayed up a while starts the backoff over; one that drops at once keeps backing off.
      if (openedAt !== 0 && Date.now() - openedAt >= STABLE_AFTER) attempt = 0;
      openedAt = 0;
      // "Equal jitter": half the exponential step, plus a random part of the other half, so restarting servers
      // are not hit by every page at the same instant.
      const step = Math.min(maxDelay, baseDelay * 2 ** attempt);
      const delay = Math.round(step / 2 + Math.random() * (step / 2));
      attempt++;
      options.onState('waiting', { attempt, delay, code: event.code });
      timer = setTimeout(open, delay);
    };
  }

  /** Tries at once instead of waiting out the backoff. */
  function retryNow() {
    if (timer === null) return;
    clearTimeout(timer);
    open();
  }
  // The device is back on a network: no reason to wait out the backoff.
  window.addEventListener('online', retryNow);

  open();
  return {
    /** Sends a JSON value; false when not connected. */
    send(value) {
      if (!ws || ws.readyState !== WebSocket.OPEN) return false;
      ws.send(JSON.stringify(value));
      return true;
    },
    retryNow,
  };
}

const clock = (t) => new Date(t).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });

/**
 * The connection's state on the page: the status pill, and while offline a banner saying since when, when the next
 * attempt is (counting down) and what the page does meanwhile (`note()`), with a "Retry now" button.
 * Also on <body>: data-state, data-attempt, data-retry-delay, data-banner (for tests and CSS).
 *
 * @param {{ status: HTMLElement, banner: HTMLElement, bannerText: HTMLElement, retry: HTMLButtonElement }} el
 * @param {{ retryNow: () => void, note?: () => string }} actions
 */
export function connectionView(el, actions) {
  let countdown = null;
  let offlineSince = null;
  el.retry.addEventListener('click', () => actions.retryNow());

  const pill = (state, main, extra = '') => {
    el.status.className = `status ${state}`;
    const more = document.createElement('span');
    more.className = 'extra';
    more.textContent = extra;
    el.status.replaceChildren(main, more);
  };
  const banner = (text) => {
    el.banner.hidden = text === null;
    if (text === null) delete document.body.dataset.banner;
    else {
      document.body.dataset.banner = '';
      const note = actions.note?.() ?? '';
      el.bannerText.textContent = `${text}${note ? ` ${note}` : ''}`;
    }
  };

  return (state, detail) => {
    document.body.dataset.state = state;
    document.body.dataset.attempt = String(detail.attempt);
    if (detail.delay !== undefined) document.body.dataset.retryDelay = String(detail.delay);
    clearInterval(countdown);
    countdown = null;
    if (state === 'open') {
      offlineSince = null;
      document.body.dataset.extensions = detail.extensions ?? '';
      pill('open', 'connected', detail.extensions?.includes('permessage-deflate') ? ' · compressed' : '');
      banner(null);
      return;
    }
    if (state === 'connecting') {
      pill(
        'connecting',
        detail.attempt === 0 ? 'connecting…' : 'reconnecting…',
        detail.attempt === 0 ? '' : ` (attempt ${detail.attempt + 1})`,
      );
      if (detail.attempt > 0) banner(`Offline since ${clock(offlineSince)}. Reconnecting now…`);
      return;
    }
    offlineSince ??= Date.now();
    const due = Date.now() + detail.delay;
    const tick = () => {
      const secs = Math.max(0, Math.ceil((due - Date.now()) / 1000));
      pill('waiting', 'offline', ` · retrying in ${secs} s`);
      banner(`Offline since ${clock(offlineSince)}. Reconnecting in ${secs} s…`);
    };
    tick();
    countdown = setInterval(tick, 500);
  };
}
