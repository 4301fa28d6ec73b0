// The chat server (ws /chat): rooms as hub topics (one framed message per broadcast), names unique per room under
// their look-alike key, presence lists, and a bounded history for late joiners and reconnects. Each connection's
// requests are handled one at a time, in order, whatever the history store does (slow, failing, gone).
import { randomUUID } from 'node:crypto';
import {
  type Clock,
  type Connection,
  type HistoryEntry,
  Hub,
  type HubOptions,
  memoryHistory,
  type Message,
  type ServerOptions,
  systemClock,
  WebSocketServer,
} from '../src/index.js';
import { lookAlikeKey } from './chat-names.js';
import {
  CHAT_LIMITS,
  type ChatEntry,
  ChatError,
  type ChatEvent,
  type ChatRequest,
  parseRequest,
} from './chat-protocol.js';

/** How long a request waits for the history store (a join's read, a message's record) before going on without. */
export const DEFAULT_HISTORY_TIMEOUT = 3000;

export interface ChatOptions {
  /** Makes the chat one node of a cluster (`adapter`) with a shared history (`history`, e.g. redisHistory). */
  hub?: HubOptions;
  /** ms; see DEFAULT_HISTORY_TIMEOUT. */
  historyTimeout?: number;
  clock?: Clock;
}

export interface ChatApp {
  server: WebSocketServer;
  hub: Hub;
  /** Names present in a room, in join order. */
  members(room: string): string[];
  close(): Promise<void>;
}

interface Member {
  room: string;
  name: string;
  conn: Connection;
  /** Lets a new connection of the same client take the name over (the welcome's `token`). */
  token: string;
  /** Its arrival was published (a join that never got its welcome leaves without a word). */
  announced: boolean;
}

type Welcome = Omit<Extract<ChatEvent, { type: 'welcome' }>, 'type' | 'room' | 'name' | 'members' | 'token'>;
type JoinRequest = Extract<ChatRequest, { type: 'join' }>;

/** By default the room history is a memory history of this chat's own. */
export function createChat(serverOptions: ServerOptions, options: ChatOptions = {}): ChatApp {
  const historyTimeout = options.historyTimeout ?? DEFAULT_HISTORY_TIMEOUT;
  if (!Number.isFinite(historyTimeout) || historyTimeout <= 0) {
    throw new RangeError(`historyTimeout must be a positive number of ms, got ${historyTimeout}`);
  }
  const clock = options.clock ?? systemClock;
  const server = new WebSocketServer({
    ...serverOptions,
    maxMessageSize: Math.min(serverOptions.maxMessageSize ?? Number.POSITIVE_INFINITY, 4 * CHAT_LIMITS.maxMessageBytes),
  });
  const hub = new Hub({
    history: memoryHistory({ maxCount: CHAT_LIMITS.historyPerRoom, maxTopics: CHAT_LIMITS.historyRooms }),
    ...options.hub,
  });
  // A history of our own lives as long as this chat: an offset a client brings from another epoch (before a restart)
  // belongs to a history since forgotten. A store passed in (Redis) outlives us: no epoch, its own gaps tell.
  const epoch = options.hub?.history === undefined ? randomUUID() : undefined;
  /** The first offset recorded in each room in this epoch: whether its history is still whole after a reset. */
  const roomStart = new Map<string, number>();
  const noteStart = (room: string, offset: number): void => {
    if (epoch === undefined || roomStart.has(room)) return;
    roomStart.set(room, offset);
    if (roomStart.size > CHAT_LIMITS.historyRooms) roomStart.delete(roomStart.keys().next().value!);
  };
  /** room → look-alike key → member. */
  const rooms = new Map<string, Map<string, Member>>();
  const topic = (room: string): string => `chat:${room}`;
  const publish = (room: string, event: ChatEvent): void => {
    hub.publish(topic(room), JSON.stringify(event));
  };
  const membersOf = (room: string): string[] => [...(rooms.get(room)?.values() ?? [])].map((m) => m.name);

  const leave = (member: Member): void => {
    const names = rooms.get(member.room);
    const key = lookAlikeKey(member.name);
    if (names?.get(key) !== member) return;
    names.delete(key);
    if (names.size === 0) rooms.delete(member.room);
    hub.unsubscribe(member.conn, topic(member.room));
    publish(member.room, {
      type: 'presence',
      room: member.room,
      members: membersOf(member.room),
      ...(member.announced && { left: member.name }),
    });
  };

  /** The welcome's history part; never rejects: a store that fails or stalls gives `historyUnavailable`. */
  const readHistory = async (req: JoinRequest): Promise<Welcome> => {
    const epochField = epoch === undefined ? {} : { epoch };
    const reset = req.since !== undefined && epoch !== undefined && req.epoch !== undefined && req.epoch !== epoch;
    // After a reset the client's offset means nothing here: this epoch's history is read from the room's start.
    const start = reset ? roomStart.get(req.room) : undefined;
    const from = reset ? (start === undefined ? undefined : start - 1) : req.since;
    const read = await settle(hub.recover(topic(req.room), from), historyTimeout, clock);
    // On a re-join nothing can vouch that what was said meanwhile is still kept: a gap, for all the client knows.
    if (!read.ok)
      return { history: [], historyUnavailable: true, ...(req.since !== undefined && { gap: true }), ...epochField };
    const history = read.value.messages.flatMap(toChatEntry).slice(-CHAT_LIMITS.historyPerRoom);
    if (req.since === undefined) return { history, ...epochField };
    if (!reset) return { history, gap: read.value.gap, ...epochField };
    // A start we no longer know (more rooms than we track) cannot vouch that nothing was trimmed.
    const gap = start === undefined ? read.value.last !== null : read.value.gap;
    return { history, gap, reset: true, ...epochField };
  };

  server.on('connection', (conn) => {
    let member: Member | null = null;
    let closed = false;
    const rate: { tokens: number; at: number } = { tokens: CHAT_LIMITS.rate.burst, at: clock.now() };
    const reply = (event: ChatEvent): undefined => {
      conn.send(JSON.stringify(event));
    };

    const join = (req: JoinRequest): Promise<void> | undefined => {
      if (closed) return; // sent just before the close: moot
      const key = lookAlikeKey(req.name);
      let table = rooms.get(req.room);
      const holder = table?.get(key);
      // The same client back on a new connection while its old one is not yet seen gone (a dropped network is
      // noticed only by the heartbeat): the old one makes way, and nobody is told anyone left or joined.
      const takeover = holder !== undefined && holder.conn !== conn && req.token === holder.token;
      if (holder && holder.conn !== conn && !takeover) {
        const like = holder.name === req.name ? '' : `: it looks too much like "${holder.name}"`;
        return reply({
          type: 'error',
          request: 'join',
          message: `the name "${req.name}" is taken in this room${like}`,
        });
      }
      if (member && member.room === req.room && member.name === req.name) return; // already there
      if (member) leave(member);
      if (takeover) {
        table!.delete(key);
        hub.unsubscribe(holder.conn, topic(req.room));
        holder.conn.close(4000, 'replaced by a newer connection');
      }
      const joined: Member = { room: req.room, name: req.name, conn, token: randomUUID(), announced: takeover };
      member = joined;
      if (!table) {
        table = new Map();
        rooms.set(req.room, table);
      }
      table.set(key, joined);
      // Subscribe, then read the history: together they miss nothing (a repeat carries an offset already seen).
      // Welcome (with the history) first, then everyone — the newcomer included — gets the new presence list.
      hub.subscribe(conn, topic(req.room));
      return readHistory(req).then((welcome) => {
        if (member !== joined || conn.readyState !== 1) return;
        const { room, name, token } = joined;
        reply({ type: 'welcome', room, name, members: membersOf(room), token, ...welcome });
        publish(room, { type: 'presence', room, members: membersOf(room), ...(!joined.announced && { joined: name }) });
        joined.announced = true;
      });
    };

    const say = (text: string): Promise<void> | undefined => {
      if (!member) return reply({ type: 'error', request: 'say', message: 'join a room before saying anything' });
      const entry: ChatEntry = { name: member.name, text, ts: Date.now() };
      const room = member.room;
      const unrecorded = (): void => publish(room, { type: 'message', room, ...entry });
      const recorded = hub
        .publishRecorded(topic(room), JSON.stringify(entry), {
          format: (offset) => JSON.stringify({ type: 'message', room, ...entry, offset } satisfies ChatEvent),
        })
        .then(({ offset }) => noteStart(room, offset));
      return settle(recorded, historyTimeout, clock).then((outcome) => {
        if (outcome.ok) return;
        // Not recorded: delivered all the same, once. Too slow: the next request goes on, and the message goes out
        // when the store records it, or unrecorded if it fails in the end.
        if (outcome.timedOut) recorded.catch(unrecorded);
        else unrecorded();
      });
    };

    const handle = (msg: Message): Promise<void> | undefined => {
      const now = clock.now();
      rate.tokens = Math.min(
        CHAT_LIMITS.rate.burst,
        rate.tokens + ((now - rate.at) / 1000) * CHAT_LIMITS.rate.perSecond,
      );
      rate.at = now;
      if (rate.tokens < 1) return reply({ type: 'error', message: 'too many messages: slow down' });
      rate.tokens -= 1;
      let req: ChatRequest;
      try {
        req = parseRequest(msg);
      } catch (err) {
        if (!(err instanceof ChatError)) throw err;
        return reply({ type: 'error', message: err.message, ...(err.request && { request: err.request }) });
      }
      return req.type === 'join' ? join(req) : say(req.text);
    };

    // One request at a time: a `say` then a `join` elsewhere (even in one TCP read) deliver the message to the old
    // room before leaving it. A close is handled last, after what was sent before it.
    const queue: Message[] = [];
    /** A request is being handled (or awaited): the next one waits. */
    let busy = false;
    const pump = (): void => {
      if (busy) return;
      busy = true;
      let pending: Promise<void> | undefined;
      try {
        while (!pending && queue.length > 0) pending = handle(queue.shift()!);
      } finally {
        busy = pending !== undefined;
      }
      if (pending) {
        pending.then(resume, resume);
      } else if (closed && member) {
        leave(member);
        member = null;
      }
    };
    const resume = (): void => {
      busy = false;
      pump();
    };
    conn.on('message', (msg) => {
      if (queue.length >= CHAT_LIMITS.queued) return reply({ type: 'error', message: 'too many messages: slow down' });
      queue.push(msg);
      pump();
    });
    conn.once('close', () => {
      closed = true;
      pump();
    });
  });

  return {
    server,
    hub,
    members: membersOf,
    close: async () => {
      await server.close();
      await hub.close();
    },
  };
}

/** A recorded chat message as a history entry (what `say` recorded: the ChatEntry JSON). */
function toChatEntry(e: HistoryEntry): ChatEntry[] {
  try {
    const { name, text, ts } = JSON.parse(e.msg.data.toString()) as ChatEntry;
    return [{ name, text, ts, offset: e.offset }];
  } catch {
    return [];
  }
}

type Settled<T> = { ok: true; value: T } | { ok: false; timedOut: boolean };

/** How `promise` settles, or that it did not within `ms`; never rejects. */
function settle<T>(promise: Promise<T>, ms: number, clock: Clock): Promise<Settled<T>> {
  return new Promise((resolve) => {
    const timer = clock.setTimeout(() => resolve({ ok: false, timedOut: true }), ms);
    promise.then(
      (value) => {
        clock.clearTimeout(timer);
        resolve({ ok: true, value });
      },
      () => {
        clock.clearTimeout(timer);
        resolve({ ok: false, timedOut: false });
      },
    );
  });
}
