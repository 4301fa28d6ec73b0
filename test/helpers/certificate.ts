// A throwaway self-signed certificate for HTTPS on 127.0.0.1, made with openssl (P-256, two days, localhost and
// 127.0.0.1 as names). Shared by the HTTP/2 tests and bench/http2.ts; the caller removes the files.
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';

/** Writes key.pem and cert.pem into `dir`. */
export async function writeCertificate(dir: string): Promise<{ keyFile: string; certFile: string }> {
  const keyFile = join(dir, 'key.pem');
  const certFile = join(dir, 'cert.pem');
  const args = 'req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost';
  await promisify(execFile)('openssl', [
    ...args.split(' '),
    ...['-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1', '-keyout', keyFile, '-out', certFile],
  ]);
  return { keyFile, certFile };
}
