// A WebSocket to this page's own server that comes back by itself: exponential backoff with jitter after each
// failure, reset once a connection has stayed up; reports its state for the page to show.

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

  open();
  return {
    /** Sends a JSON value; false when not connected. */
    send(value) {
      if (!ws || ws.readyState !== WebSocket.OPEN) return false;
      ws.send(JSON.stringify(value));
      return true;
    },
    /** Tries at once instead of waiting out the backoff. */
    retryNow() {
      if (timer === null) return;
      clearTimeout(timer);
      open();
    },
  };
}

/** Shows a connection state in `el` (and on <body data-state> for tests and CSS). */
export function showState(el, state, detail) {
  document.body.dataset.state = state;
  document.body.dataset.attempt = String(detail.attempt);
  if (detail.delay !== undefined) document.body.dataset.retryDelay = String(detail.delay);
  el.className = `status ${state}`;
  if (state === 'open') {
    const deflate = detail.extensions?.includes('permessage-deflate');
    document.body.dataset.extensions = detail.extensions ?? '';
    el.textContent = deflate ? 'connected · compressed' : 'connected';
  } else if (state === 'connecting') {
    el.textContent = detail.attempt === 0 ? 'connecting…' : `reconnecting… (attempt ${detail.attempt + 1})`;
  } else {
    el.textContent = `offline · retrying in ${(detail.delay / 1000).toFixed(1)} s`;
  }
}
