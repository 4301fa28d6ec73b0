#!/usr/bin/env node
// The `switchboard` command. The CLI itself is compiled into dist/ (by `npm run build`, `npm start`, `npm test`, and
// `npm pack` through prepack), so a checkout that was never built says so instead of printing a module-not-found trace.
import { fileURLToPath } from 'node:url';

const entry = new URL('../dist/src/cli/main.js', import.meta.url);

import(entry.href)
  .then(
    ({ main }) =>
      main(process.argv.slice(2)).then((code) => {
        if (typeof code !== 'number') return;
        process.exitCode = code;
        // A command that failed has nothing left worth waiting for, but may have left handles open (a server that
        // could not listen keeps its Redis clients): exit now rather than hang.
        if (code !== 0) process.exit(code);
      }),
    (err) => {
      const unbuilt = err?.code === 'ERR_MODULE_NOT_FOUND' && String(err.message).includes(fileURLToPath(entry));
      throw unbuilt ? new Error('switchboard is not built yet: run `npm run build` in its directory first') : err;
    },
  )
  .catch((err) => {
    process.stderr.write(`switchboard: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
