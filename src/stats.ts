// Counters a server (or client) keeps for observability, plus the node:diagnostics_channel names it publishes on.
import { channel } from 'node:diagnostics_channel';

/**
 * Counters kept by a server (`wss.stats`), or by the connections of connect() calls that pass one as `stats`. Plain
 * numbers, cheap to read: export them to your metrics system on a timer.
 */
export class Stats {
  /** Connections open now. */
  connectionsOpen = 0;
  /** Connections opened since start. */
  connectionsTotal = 0;
  /** Messages received. */
  messagesIn = 0;
  /** Messages sent. */
  messagesOut = 0;
  /** Bytes read from the transport (frame headers included). */
  bytesIn = 0;
  /** Bytes written to the transport (frame headers included). */
  bytesOut = 0;
  /** Messages skipped for a slow consumer under the 'drop' policy. */
  dropped = 0;
  /** Connections closed for being slow consumers under the 'close' policy. */
  evicted = 0;
  /** Connections terminated by the heartbeat for their silence. */
  heartbeatKills = 0;
  /** Connections failed for a peer's protocol violation (1002, 1007, 1009). */
  protocolErrors = 0;
  /** Handshakes refused, and plain HTTP requests that reached a WebSocket endpoint. */
  handshakeFailures = 0;

  /** A copy of every counter, by name. */
  snapshot(): Record<string, number> {
    return { ...this } as unknown as Record<string, number>;
  }
}

/** `switchboard:connection:open`, published with `{ connection }` when a connection opens. */
export const openChannel = channel('switchboard:connection:open');
/** `switchboard:connection:close`, published with `{ connection, info }` (a CloseInfo) when a connection closes. */
export const closeChannel = channel('switchboard:connection:close');
/** `switchboard:protocol-error`, published with `{ connection, closeCode, message }` when a peer breaks the protocol. */
export const protocolErrorChannel = channel('switchboard:protocol-error');
