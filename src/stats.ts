// Counters a server (or client) keeps for observability, plus the node:diagnostics_channel names it publishes on.
import { channel } from 'node:diagnostics_channel';

export class Stats {
  connectionsOpen = 0;
  connectionsTotal = 0;
  messagesIn = 0;
  messagesOut = 0;
  bytesIn = 0;
  bytesOut = 0;
  /** Messages skipped for a slow consumer under the 'drop' policy. */
  dropped = 0;
  /** Connections closed for being slow consumers under the 'close' policy. */
  evicted = 0;
  heartbeatKills = 0;
  protocolErrors = 0;
  handshakeFailures = 0;

  snapshot(): Record<string, number> {
    return { ...this } as unknown as Record<string, number>;
  }
}

/** Published with `{ connection }` when a connection opens, and `{ connection, info }` when it closes. */
export const openChannel = channel('switchboard:connection:open');
export const closeChannel = channel('switchboard:connection:close');
/** Published with `{ connection, closeCode, message }` when a peer breaks the protocol. */
export const protocolErrorChannel = channel('switchboard:protocol-error');
