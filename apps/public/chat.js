// The chat page: joins a room over ws /chat, shows who is present and the messages as they arrive. Re-joins by itself
// after a reconnect. Text from the network goes into the page through textContent only.
import { reconnecting, showState } from './reconnect.js';

const $ = (id) => document.getElementById(id);
const ui = {
  status: $('status'),
  joinForm: $('join-form'),
  name: $('name'),
  room: $('room'),
  join: $('join'),
  messages: $('messages'),
  roomTitle: $('room-title'),
  members: $('members'),
  sayForm: $('say-form'),
  text: $('text'),
  send: $('send'),
  error: $('error'),
};

/** What we asked to join, to re-join after a reconnect; and what the server confirmed. */
let wanted = null;
let joined = null;

/**
 * Recovery: `since` is the room offset up to which every message was seen; a re-join after a reconnect sends it and
 * the server answers with what was said meanwhile. Offsets seen above it are kept so repeats are dropped.
 */
let since = null;
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

const socket = reconnecting('/chat', {
  onState(state, detail) {
    showState(ui.status, state, detail);
    const open = state === 'open';
    ui.join.disabled = !open;
    if (!open) setJoined(null);
  },
  onOpen() {
    early = [];
    if (wanted) socket.send({ type: 'join', ...wanted, ...(since !== null && { since }) });
  },
  onMessage: handle,
});

function handle(event) {
  switch (event.type) {
    case 'welcome': {
      setJoined({ room: event.room, name: event.name });
      const rejoin = event.gap !== undefined; // the answer to a join with `since`: what was said while away
      if (!rejoin) ui.messages.replaceChildren();
      for (const entry of [...event.history, ...early]) if (fresh(entry.offset)) addMessage(entry);
      early = [];
      if (event.gap) addSystem('Some messages from while you were away are no longer kept.');
      addSystem(rejoin ? `Back in #${event.room}.` : `You joined #${event.room} as ${event.name}.`);
      setMembers(event.members);
      break;
    }
    case 'presence':
      if (joined && event.room === joined.room) {
        setMembers(event.members);
        if (event.joined && event.joined !== joined.name) addSystem(`${event.joined} joined.`);
        if (event.left) addSystem(`${event.left} left.`);
      }
      break;
    case 'message':
      if (joined && event.room === joined.room) {
        if (fresh(event.offset)) addMessage(event);
      } else if (wanted && event.room === wanted.room.toLowerCase()) early.push(event);
      break;
    case 'error':
      ui.error.textContent = event.message;
      break;
  }
}

function setJoined(value) {
  joined = value;
  ui.text.disabled = !value;
  ui.send.disabled = !value;
  ui.text.placeholder = value ? `message #${value.room}` : 'join a room to chat';
  document.body.dataset.joined = value ? value.room : '';
  if (!value) {
    ui.roomTitle.textContent = 'Not in a room';
    ui.members.replaceChildren();
  }
}

function setMembers(names) {
  ui.roomTitle.textContent = `#${joined.room} · ${names.length} present`;
  ui.members.replaceChildren(
    ...names.map((n) => {
      const li = document.createElement('li');
      li.textContent = n === joined.name ? `${n} (you)` : n;
      return li;
    }),
  );
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
}

function addSystem(text) {
  const li = document.createElement('li');
  li.className = 'system';
  li.textContent = text;
  append(li);
}

function append(li) {
  const atBottom = ui.messages.scrollHeight - ui.messages.scrollTop - ui.messages.clientHeight < 40;
  ui.messages.append(li);
  if (atBottom) ui.messages.scrollTop = ui.messages.scrollHeight;
}

ui.joinForm.addEventListener('submit', (e) => {
  e.preventDefault();
  ui.error.textContent = '';
  wanted = { room: ui.room.value.trim(), name: ui.name.value.trim() };
  since = null;
  seen.clear();
  early = [];
  sessionStorage.setItem('chat.name', wanted.name);
  sessionStorage.setItem('chat.room', wanted.room);
  socket.send({ type: 'join', ...wanted });
});

ui.sayForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const text = ui.text.value;
  if (text.trim() === '') return;
  ui.error.textContent = '';
  if (socket.send({ type: 'say', text })) ui.text.value = '';
  ui.text.focus();
});
