// The chat page: joins a room over ws /chat, shows who is present and the messages as they arrive, re-joins by itself
// after a reconnect and says honestly what, if anything, was missed. Network text goes in through textContent only.
import { connectionView, reconnecting } from './reconnect.js';

const $ = (id) => document.getElementById(id);
const ui = {
  joinForm: $('join-form'),
  name: $('name'),
  room: $('room'),
  join: $('join'),
  joinError: $('join-error'),
  membersToggle: $('members-toggle'),
  members: $('members'),
  messages: $('messages'),
  empty: $('empty'),
  emptyTitle: $('empty-title'),
  emptyText: $('empty-text'),
  sayForm: $('say-form'),
  text: $('text'),
  send: $('send'),
  sayError: $('say-error'),
};
const TITLE = document.title;
/** Close codes of a server that shut down on purpose: everything it sent before arrived. */
const CLEAN_CLOSE = [1000, 1001, 1012];

/** What we asked to join (re-joined after a reconnect), what the server confirmed, and whether a join is pending. */
let wanted = null;
let joined = null;
let joining = null; // 'user' | 'rejoin' | null
/** The welcome's token: on a re-join it gets our name back even while the server still holds our old connection. */
let token = null;
let open = false;
/** Whether the last connection ended in a clean server shutdown. */
let cleanClose = true;
let unread = 0;
/** The last welcome could not include the room's history. */
let historyUnavailable = false;

/**
 * Recovery: `since` is the room offset up to which every message was seen, in the history `epoch`; a re-join sends
 * both and the server answers with what was said meanwhile. Offsets seen above `since` are kept so repeats are dropped.
 */
let since = null;
let epoch = null;
const seen = new Set();
/** Messages that arrived between a (re-)join and its welcome. */
let early = [];

function fresh(offset) {
  if (typeof offset !== 'number') return true; // not recorded (history unavailable): shown, not tracked
  if ((since !== null && offset <= since) || seen.has(offset)) return false;
  seen.add(offset);
  if (since === null) since = offset - 1;
  if (seen.size > 100) since = Math.min(...seen) - 1; // a hole that never filled: stop waiting for it
  while (seen.delete(since + 1)) since++;
  return true;
}

ui.name.value = sessionStorage.getItem('chat.name') ?? '';
ui.room.value = sessionStorage.getItem('chat.room') ?? new URLSearchParams(location.search).get('room') ?? 'lobby';

// Before the socket: it reports its first state at once.
const showConnection = connectionView(
  { status: $('status'), banner: $('banner'), bannerText: $('banner-text'), retry: $('retry') },
  {
    retryNow: () => socket.retryNow(),
    note: () => (wanted ? `You will be back in #${wanted.room.toLowerCase()} by yourself.` : ''),
  },
);
const socket = reconnecting('/chat', {
  onState(state, detail) {
    showConnection(state, detail);
    // Only the end of a connection that was up says anything about what reached us (not a failed attempt).
    if (state === 'waiting' && open) cleanClose = CLEAN_CLOSE.includes(detail.code);
    open = state === 'open';
    ui.join.disabled = !open;
    if (!open) setJoined(null);
  },
  onOpen() {
    early = [];
    if (wanted) sendJoin('rejoin');
  },
  onMessage: handle,
});

function sendJoin(kind) {
  joining = kind;
  const recovery = kind === 'rejoin' && since !== null ? { since, ...(epoch !== null && { epoch }) } : {};
  socket.send({ type: 'join', ...wanted, ...recovery, ...(kind === 'rejoin' && token !== null && { token }) });
}

function handle(event) {
  switch (event.type) {
    case 'welcome':
      welcome(event);
      break;
    case 'presence':
      if (joined && event.room === joined.room) {
        setMembers(event.members);
        if (event.joined && event.joined !== joined.name) addSystem(`${event.joined} joined.`);
        if (event.left) addSystem(`${event.left} left.`);
      }
      break;
    case 'message':
      if (joined && event.room === joined.room) {
        if (fresh(event.offset)) {
          addMessage(event);
          if (document.hidden && event.name !== joined.name) setUnread(unread + 1);
        }
      } else if (wanted && event.room === wanted.room.toLowerCase()) early.push(event);
      break;
    case 'error':
      refused(event);
      break;
  }
}

function welcome(event) {
  const rejoin = joining === 'rejoin';
  joining = null;
  token = event.token;
  setJoined({ room: event.room, name: event.name });
  if (event.reset) {
    // Offsets from the forgotten history mean nothing now; the new one is sent whole.
    since = null;
    seen.clear();
  }
  epoch = event.epoch ?? null;
  if (!rejoin) ui.messages.replaceChildren();
  const before = ui.messages.lastElementChild;
  // Where the hole is: right before the oldest message still kept.
  if (rejoin && event.gap && !event.historyUnavailable) {
    addSystem('Some messages from while you were away are no longer kept.', 'warning');
  }
  for (const entry of [...event.history, ...early]) if (fresh(entry.offset)) addMessage(entry);
  early = [];
  // Back from away: the reader starts at what they missed (the list stays at the bottom when it all fits).
  const firstNew = before ? before.nextElementSibling : ui.messages.firstElementChild;
  if (rejoin && firstNew) firstNew.scrollIntoView({ block: 'nearest' });
  if (rejoin) addSystem(`Back in #${event.room}${event.reset ? ' (the server restarted)' : ''}.`);
  else addSystem(`You joined #${event.room} as ${event.name}.`);
  historyUnavailable = event.historyUnavailable === true;
  if (historyUnavailable) {
    addSystem(
      rejoin
        ? 'The history is unavailable right now: messages from while you were away cannot be shown.'
        : 'The history is unavailable right now: new messages appear as they arrive.',
      'notice',
    );
  } else if (rejoin && event.reset && !event.gap && !cleanClose) {
    // It went down without saying goodbye: what it was sending then may not have reached us.
    addSystem('The server restarted: messages sent just before it went down may be missing.', 'notice');
  }
  setMembers(event.members);
  if (!rejoin) ui.text.focus();
}

/** An error shown where the user acted: under the join form for a join, under the message box otherwise. */
function refused(event) {
  const forJoin = event.request === 'join' || (event.request === undefined && joining !== null);
  if (!forJoin) {
    ui.sayError.textContent = event.message;
    return;
  }
  ui.joinError.textContent = event.message;
  joining = null;
  // The server keeps us where we were; a refused first join is not retried after a reconnect.
  wanted = joined;
  showRoom();
}

function setJoined(value) {
  joined = value;
  document.body.dataset.joined = value ? value.room : '';
  ui.text.disabled = !wanted;
  ui.send.disabled = !value;
  ui.text.placeholder = value
    ? `message #${value.room}`
    : wanted
      ? 'offline: you can write, send when back'
      : 'join a room to chat';
  showRoom();
}

/** The room bar and the empty-room hint, from where we are. */
function showRoom() {
  const room = joined?.room ?? wanted?.room.toLowerCase();
  const count = ui.members.children.length;
  ui.membersToggle.textContent = !room
    ? 'Not in a room yet'
    : joined
      ? `#${room} · ${count} present`
      : `#${room} · ${open ? 'joining…' : 'offline'}`;
  if (!room) ui.members.replaceChildren();
  const hasMessages = ui.messages.querySelector('.text') !== null;
  ui.empty.hidden = hasMessages;
  if (!room) {
    ui.emptyTitle.textContent = 'Pick a name and a room';
    ui.emptyText.textContent = 'then press Join. Anyone who joins the same room sees what you write.';
  } else if (joined && historyUnavailable) {
    ui.emptyTitle.textContent = 'Nothing to show yet';
    ui.emptyText.textContent = `What was said in #${room} before cannot be read right now; new messages appear here.`;
  } else if (joined) {
    ui.emptyTitle.textContent = `No messages in #${room} yet`;
    ui.emptyText.textContent = 'Say hello: type below and press Enter.';
  } else {
    ui.emptyTitle.textContent = open ? `Joining #${room}…` : 'Offline';
    ui.emptyText.textContent = open ? '' : `You will be back in #${room} as soon as the connection returns.`;
  }
}

function setMembers(names) {
  ui.members.replaceChildren(
    ...names.map((n) => {
      const li = document.createElement('li');
      li.textContent = n === joined.name ? `${n} (you)` : n;
      return li;
    }),
  );
  showRoom();
}

function addMessage(entry) {
  const li = document.createElement('li');
  if (joined && entry.name === joined.name) li.className = 'me';
  const time = document.createElement('time');
  const at = new Date(entry.ts);
  time.dateTime = at.toISOString();
  time.textContent = at.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = entry.name;
  const text = document.createElement('span');
  text.className = 'text';
  text.textContent = entry.text;
  li.append(time, who, text);
  append(li);
  ui.empty.hidden = true;
}

/** A line from the page itself; `kind` 'notice' or 'warning' stands out. */
function addSystem(text, kind) {
  const li = document.createElement('li');
  li.className = kind ? `system ${kind}` : 'system';
  li.textContent = text;
  append(li);
}

function append(li) {
  const atBottom = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 40;
  ui.messages.append(li);
  if (atBottom) ui.messages.scrollTop = ui.messages.scrollHeight;
}

function setUnread(n) {
  unread = n;
  document.title = n > 0 ? `(${n}) ${TITLE}` : TITLE;
}
document.addEventListener('visibilitychange', () => {
  if (!document.hidden) setUnread(0);
});

ui.joinForm.addEventListener('submit', (e) => {
  e.preventDefault();
  ui.joinError.textContent = '';
  wanted = { room: ui.room.value.trim(), name: ui.name.value.trim() };
  since = null;
  epoch = null;
  seen.clear();
  early = [];
  sessionStorage.setItem('chat.name', wanted.name);
  sessionStorage.setItem('chat.room', wanted.room);
  sendJoin('user');
});

ui.sayForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = ui.text.value;
  if (text.trim() === '' || !joined) return;
  ui.sayError.textContent = '';
  if (socket.send({ type: 'say', text })) ui.text.value = '';
  ui.text.focus();
});

ui.text.addEventListener('keydown', (e) => {
  if (e.key === 'Escape') {
    ui.text.value = '';
    ui.sayError.textContent = '';
  } else if (e.key === 'Enter' && !joined) {
    // The Send button is disabled while offline, so Enter would do nothing at all: say why.
    ui.sayError.textContent = 'Not connected: your message stays here; send it once you are back.';
  }
});

// On a phone the member list folds into the room bar; wider, it is always shown beside the messages.
ui.membersToggle.addEventListener('click', () => {
  const panel = ui.membersToggle.closest('section');
  const expand = panel.toggleAttribute('data-collapsed') === false;
  ui.membersToggle.setAttribute('aria-expanded', String(expand));
});

showRoom();
