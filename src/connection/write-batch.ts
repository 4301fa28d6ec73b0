// Coalesces the writes one tick makes to many sockets: a connection corks its socket at its first send outside a
// read, and every corked socket is uncorked together once the tick's synchronous work is done (one nextTick for all),
// so a burst of publishes reaches each subscriber in one writev instead of a syscall per message.

export interface TickCorked {
  uncorkTick(): void;
}

let batch: TickCorked[] = [];

function flush(): void {
  const list = batch;
  batch = [];
  for (const item of list) item.uncorkTick();
}

/** Registers a connection that has just corked its socket; it is uncorked at the end of the current tick. */
export function uncorkAtEndOfTick(item: TickCorked): void {
  if (batch.length === 0) process.nextTick(flush);
  batch.push(item);
}
