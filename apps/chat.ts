// The chat demo (ws /chat): a JSON protocol validated on the server, rooms as hub topics (one framed message per
// broadcast), presence lists, and a bounded recent history for late joiners.
import {
  type Connection,
  Hub,
  type HistoryEntry,
  type HubOptions,
  memoryHistory as hubHistory,
  type Message,
  type ServerOptions,
  WebSocketServer,
} from '../src/index.js';

export const CHAT_LIMITS = {
  /** Largest message the chat reads (bigger ones get an error); the socket itself closes at 4× this (1009). */
  maxMessageBytes: 4096,
  maxNameLength: 24,
  maxRoomLength: 32,
  maxTextLength: 500,
  historyPerRoom: 50,
  /** Rooms whose history is kept; the least recently used one is forgotten beyond this. */
  historyRooms: 200,
  /** Token bucket per connection: `burst` messages at once, refilled at `perSecond`. */
  rate: { burst: 20, perSecond: 10 },
} as const;

/** What a client may send. */
export type ChatRequest =
  /** `since`: the last offset the client saw in this room, on a re-join after a reconnect. */
  { type: 'join'; room: string; name: string; since?: number } | { type: 'say'; text: string };

export interface ChatEntry {
  name: string;
  text: string;
  /** Server time, ms since the epoch. */
  ts: number;
  /** The message's place in its room (consecutive integers); absent when the history could not record it. */
  offset?: number;
}

/** What the server sends. */
export type ChatEvent =
  /** On a join with `since`, `history` is what was said after it, and `gap` says some of that is no longer kept. */
  | { type: 'welcome'; room: string; name: string; members: string[]; history: ChatEntry[]; gap?: boolean }
  | { type: 'presence'; room: string; members: string[]; joined?: string; left?: string }
  | ({ type: 'message'; room: string } & ChatEntry)
  | { type: 'error'; message: string };

export class ChatError extends Error {}

/** A recorded chat message as a history entry (what `say` recorded: the ChatEntry JSON). */
function toChatEntry(e: HistoryEntry): ChatEntry[] {
  try {
    const { name, text, ts } = JSON.parse(e.msg.data.toString()) as ChatEntry;
    return [{ name, text, ts, offset: e.offset }];
  } catch {
    return [];
  }
}

// C0 and C1 controls, DEL, and the bidi overrides/isolates that let a name or text render as something else.
const FORBIDDEN = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

/** Parses and validates one client message; throws ChatError with a message fit to show the user. */
export function parseRequest(msg: Message): ChatRequest {
  if (msg.type !== 'text') throw new ChatError('messages must be JSON text, not binary');
  if (Buffer.byteLength(msg.data) > CHAT_LIMITS.maxMessageBytes) {
    throw new ChatError(`message too large (max ${CHAT_LIMITS.maxMessageBytes} bytes)`);
  }
  let value: unknown;
  try {
    value = JSON.parse(msg.data);
  } catch {
    throw new ChatError('message is not valid JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new ChatError('message must be a JSON object with a "type"');
  }
  const obj = value as Record<string, unknown>;
  switch (obj.type) {
    case 'join': {
      const name = field(obj, 'name', CHAT_LIMITS.maxNameLength);
      const room = field(obj, 'room', CHAT_LIMITS.maxRoomLength);
      if (obj.since === undefined) return { type: 'join', room: room.toLowerCase(), name };
      if (!Number.isSafeInteger(obj.since) || (obj.since as number) < 0) {
        throw new ChatError('"since" must be an offset (a whole number ≥ 0)');
      }
      return { type: 'join', room: room.toLowerCase(), name, since: obj.since as number };
    }
    case 'say':
      return { type: 'say', text: field(obj, 'text', CHAT_LIMITS.maxTextLength) };
    default:
      throw new ChatError(`unknown message type ${JSON.stringify(obj.type)} (expected "join" or "say")`);
  }
}

function field(obj: Record<string, unknown>, key: string, max: number): string {
  const raw = obj[key];
  if (typeof raw !== 'string') throw new ChatError(`"${key}" must be a string`);
  const value = raw.trim();
  if (value === '') throw new ChatError(`"${key}" must not be empty`);
  if ([...value].length > max) throw new ChatError(`"${key}" is too long (max ${max} characters)`);
  if (FORBIDDEN.test(value)) throw new ChatError(`"${key}" must not contain control characters`);
  return value;
}

interface Member {
  room: string;
  name: string;
}

export interface ChatApp {
  server: WebSocketServer;
  hub: Hub;
  /** Names present in a room, in join order. */
  members(room: string): string[];
  close(): Promise<void>;
}

/**
 * `hubOptions` makes the chat one node of a cluster (`adapter`) with a shared history (`history`, e.g. redisHistory);
 * by default the room history is the hub's memory history.
 */
export function createChat(options: ServerOptions, hubOptions: HubOptions = {}): ChatApp {
  const server = new WebSocketServer({
    ...options,
    maxMessageSize: Math.min(options.maxMessageSize ?? Number.POSITIVE_INFINITY, 4 * CHAT_LIMITS.maxMessageBytes),
  });
  const hub = new Hub({
    history: hubHistory({ maxCount: CHAT_LIMITS.historyPerRoom, maxTopics: CHAT_LIMITS.historyRooms }),
    ...hubOptions,
  });
  // room → name → connection; a name is unique within its room.
  const rooms = new Map<string, Map<string, Connection>>();
  const topic = (room: string): string => `chat:${room}`;
  const publish = (room: string, event: ChatEvent): void => {
    hub.publish(topic(room), JSON.stringify(event));
  };
  const membersOf = (room: string): string[] => [...(rooms.get(room)?.keys() ?? [])];

  const leave = (conn: Connection, member: Member): void => {
    const names = rooms.get(member.room);
    if (names?.get(member.name) !== conn) return;
    names.delete(member.name);
    if (names.size === 0) rooms.delete(member.room);
    hub.unsubscribe(conn, topic(member.room));
    publish(member.room, { type: 'presence', room: member.room, members: membersOf(member.room), left: member.name });
  };

  server.on('connection', (conn) => {
    let member: Member | null = null;
    const rate: { tokens: number; at: number } = { tokens: CHAT_LIMITS.rate.burst, at: Date.now() };
    const reply = (event: ChatEvent): void => {
      conn.send(JSON.stringify(event));
    };
    // Messages that arrive while a join's history is being read wait here, so replies keep their order.
    let backlog: Message[] | null = null;
    const onMessage = (msg: Message): void => {
      if (backlog) {
        if (backlog.length >= CHAT_LIMITS.rate.burst) reply({ type: 'error', message: 'too many messages: slow down' });
        else backlog.push(msg);
        return;
      }
      handle(msg);
    };
    const drainBacklog = (): void => {
      const waiting = backlog ?? [];
      backlog = null;
      while (waiting.length > 0 && backlog === null) handle(waiting.shift()!);
      if (backlog !== null) (backlog as Message[]).unshift(...waiting);
    };
    conn.on('message', onMessage);
    const handle = (msg: Message) => {
      const now = Date.now();
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
        return reply({ type: 'error', message: err.message });
      }
      if (req.type === 'join') {
        const names = rooms.get(req.room);
        const holder = names?.get(req.name);
        if (holder && holder !== conn)
          return reply({ type: 'error', message: `the name "${req.name}" is taken in this room` });
        if (member && member.room === req.room && member.name === req.name) return; // already there
        if (member) leave(conn, member);
        member = { room: req.room, name: req.name };
        let table = rooms.get(req.room);
        if (!table) {
          table = new Map();
          rooms.set(req.room, table);
        }
        table.set(req.name, conn);
        // Subscribe, then read the history: together they miss nothing (a repeat carries an offset already seen).
        // Welcome (with the history) first, then everyone — the newcomer included — gets the new presence list.
        hub.subscribe(conn, topic(req.room));
        const joined = member;
        const since = req.since;
        backlog = [];
        hub
          .recover(topic(req.room), since)
          .then(
            (r) => ({ history: r.messages.flatMap(toChatEntry).slice(-CHAT_LIMITS.historyPerRoom), gap: r.gap }),
            () => ({ history: [], gap: true }), // history unreachable (Redis down): live messages still flow
          )
          .then(({ history, gap }) => {
            if (member === joined && conn.readyState === 1) {
              reply({
                type: 'welcome',
                room: joined.room,
                name: joined.name,
                members: membersOf(joined.room),
                history,
                ...(since !== undefined && { gap }),
              });
              publish(joined.room, {
                type: 'presence',
                room: joined.room,
                members: membersOf(joined.room),
                joined: joined.name,
              });
            }
            drainBacklog();
          });
        return;
      }
      if (!member) return reply({ type: 'error', message: 'join a room before saying anything' });
      const entry: ChatEntry = { name: member.name, text: req.text, ts: now };
      const room = member.room;
      hub
        .publishRecorded(topic(room), JSON.stringify(entry), {
          format: (offset) => JSON.stringify({ type: 'message', room, ...entry, offset } satisfies ChatEvent),
        })
        .catch(() => publish(room, { type: 'message', room, ...entry })); // not recorded: delivered all the same
    };
    conn.once('close', () => {
      if (member) leave(conn, member);
      member = null;
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
