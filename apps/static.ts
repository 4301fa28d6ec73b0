// Static files of the demo pages (apps/public/): a fixed set of content types, GET/HEAD only, and no way out of the
// public folder (no `..`, no encoded separators, no NUL, no dotfiles, no symlink escape).
import { existsSync } from 'node:fs';
import { readFile, realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** Same-origin only: the pages load nothing from elsewhere (the machine may have no internet). */
const SECURITY_HEADERS = {
  'X-Content-Type-Options': 'nosniff',
  'Content-Security-Policy': "default-src 'self'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
  'Referrer-Policy': 'no-referrer',
  'Cache-Control': 'no-cache',
};

/** The public folder, from the compiled file (dist/apps/static.js) or the source (apps/static.ts). */
export function defaultPublicDir(): string {
  const candidates = [new URL('../../apps/public/', import.meta.url), new URL('./public/', import.meta.url)];
  for (const url of candidates) {
    const dir = fileURLToPath(url);
    if (existsSync(join(dir, 'chat.html'))) return dir;
  }
  return fileURLToPath(candidates[0]!);
}

export type StaticHandler = (req: IncomingMessage, res: ServerResponse) => Promise<boolean>;

/**
 * Returns a handler that answers a request for a file under `root` (after `aliases` map a path such as '/' to a
 * file) and resolves true, or resolves false when the path is not a file it serves, so the caller can answer 404.
 */
export function staticFiles(root: string, aliases: Readonly<Record<string, string>> = {}): StaticHandler {
  let realRoot: Promise<string> | null = null;
  return async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const rawPath = (req.url ?? '/').split('?')[0] ?? '/';
    const name = safeName(aliases[rawPath] ?? rawPath);
    if (name === null) return false;
    const type = CONTENT_TYPES[extname(name)];
    if (!type) return false;
    realRoot ??= realpath(root);
    const base = await realRoot.catch(() => null);
    if (base === null) return false;
    let file: string;
    try {
      file = await realpath(join(base, name));
      if (!file.startsWith(base + sep) || !(await stat(file)).isFile()) return false;
    } catch {
      return false;
    }
    const body = await readFile(file);
    res.writeHead(200, { 'Content-Type': type, 'Content-Length': body.length, ...SECURITY_HEADERS });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  };
}

/** A request path as a relative file name, or null when it could name anything outside the folder. */
export function safeName(urlPath: string): string | null {
  let path: string;
  try {
    path = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (!path.startsWith('/') || path.includes('\0') || path.includes('\\')) return null;
  const parts = path.slice(1).split('/');
  // Every segment a plain name: no '', '.', '..' or dotfile; so no traversal, whatever the platform's separator.
  if (parts.some((p) => p === '' || p.startsWith('.'))) return null;
  return parts.join('/');
}
