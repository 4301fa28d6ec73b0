// The chat's JSON protocol (ws /chat): what a client may send and what the server answers, the limits, and the
// validation of every request, with errors worded for the user who made it.
import type { Message } from '../src/index.js';
import { displayForm, nameProblem } from './chat-names.js';

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
  /** Requests of one connection waiting for an earlier one (a join reading the history) before more are refused. */
  queued: 20,
  /** Longest `epoch` or `token` a join may carry. */
  maxIdLength: 64,
} as const;

/** What a client may send. */
export type ChatRequest =
  | {
      type: 'join';
      room: string;
      name: string;
      /** On a re-join after a reconnect: the last offset the client saw in this room... */
      since?: number;
      /** ...and the history epoch it came from (the welcome's `epoch`). */
      epoch?: string;
      /** The welcome's `token`: the name is this client's again, even if the server still holds its old connection. */
      token?: string;
    }
  | { type: 'say'; text: string };

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
  | {
      type: 'welcome';
      room: string;
      name: string;
      members: string[];
      /** What was said in the room: the recent messages, or on a re-join with `since`, what was said after it. */
      history: ChatEntry[];
      /**
       * Names the life of the room history (a server's memory history is new on each start); a client re-joins with
       * it and `since`. Absent when the history outlives the server (Redis).
       */
      epoch?: string;
      /**
       * On a re-join with `since`: true when messages said after it are no longer kept (really lost), or cannot be
       * known to be (with `historyUnavailable`).
       */
      gap?: boolean;
      /** On a re-join: `since` was from a history since forgotten (a restart); `history` is all of the new one. */
      reset?: true;
      /** A secret for re-joining under this name from a new connection while the old one is not yet seen gone. */
      token: string;
      /** The history could not be read (store down or too slow): live messages flow all the same. */
      historyUnavailable?: true;
    }
  | { type: 'presence'; room: string; members: string[]; joined?: string; left?: string }
  | ({ type: 'message'; room: string } & ChatEntry)
  /** `request`: the kind of request refused, so a page shows the error where the user acted. */
  | { type: 'error'; message: string; request?: ChatRequest['type'] };

export class ChatError extends Error {
  constructor(
    message: string,
    readonly request?: ChatRequest['type'],
  ) {
    super(message);
  }
}

// C0 and C1 controls, DEL, and the bidi overrides/isolates that let a text render as something else.
const FORBIDDEN_IN_TEXT = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

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
      const join: ChatRequest = {
        type: 'join',
        name: nameField(obj, 'name', CHAT_LIMITS.maxNameLength),
        room: nameField(obj, 'room', CHAT_LIMITS.maxRoomLength).toLowerCase(),
      };
      if (obj.since !== undefined) {
        if (!Number.isSafeInteger(obj.since) || (obj.since as number) < 0) {
          throw new ChatError('"since" must be an offset (a whole number ≥ 0)', 'join');
        }
        join.since = obj.since as number;
      }
      if (obj.epoch !== undefined) join.epoch = idField(obj, 'epoch');
      if (obj.token !== undefined) join.token = idField(obj, 'token');
      return join;
    }
    case 'say': {
      const text = stringField(obj, 'text', 'say').trim();
      checkSize(text, 'text', CHAT_LIMITS.maxTextLength, 'say');
      if (FORBIDDEN_IN_TEXT.test(text)) throw new ChatError('"text" must not contain control characters', 'say');
      return { type: 'say', text };
    }
    default:
      throw new ChatError(`unknown message type ${JSON.stringify(obj.type)} (expected "join" or "say")`);
  }
}

/** A person's or room's name in display form, refused when invisible characters could make it pass for another. */
function nameField(obj: Record<string, unknown>, key: 'name' | 'room', max: number): string {
  const value = displayForm(stringField(obj, key, 'join'));
  checkSize(value, key, max, 'join');
  const problem = nameProblem(value);
  if (problem) throw new ChatError(`"${key}" ${problem}`, 'join');
  return value;
}

function idField(obj: Record<string, unknown>, key: 'epoch' | 'token'): string {
  const value = obj[key];
  if (typeof value !== 'string' || value.length > CHAT_LIMITS.maxIdLength) {
    throw new ChatError(`"${key}" must be a string of at most ${CHAT_LIMITS.maxIdLength} characters`, 'join');
  }
  return value;
}

function stringField(obj: Record<string, unknown>, key: string, request: ChatRequest['type']): string {
  const value = obj[key];
  if (typeof value !== 'string') throw new ChatError(`"${key}" must be a string`, request);
  return value;
}

function checkSize(value: string, key: string, max: number, request: ChatRequest['type']): void {
  if (value === '') throw new ChatError(`"${key}" must not be empty`, request);
  if ([...value].length > max) throw new ChatError(`"${key}" is too long (max ${max} characters)`, request);
}
