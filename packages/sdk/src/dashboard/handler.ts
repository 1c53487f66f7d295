import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzip } from 'node:zlib';
import { promisify } from 'node:util';
import { errorText, type Notices } from '../record/notices.js';
import type { PageConfig } from './page-config.js';
import { sloSettings, type SloOptions } from './slo.js';

export interface DashboardOptions {
  /**
   * Require this bearer token for the page and its snapshot: `Authorization: Bearer TOKEN`, or
   * `?token=TOKEN` on the page's address (a browser cannot send a header when it opens a page; the
   * page then sends the header itself and drops the token from the address bar).
   */
  token?: string;
  /** The SLOs the page reports on since start (default: TTFT ≤ 1 s and availability, 99 % each); `false` for none. */
  slo?: SloOptions;
}

/** Serves `GET <mount>` (the page) and `GET <mount>/snapshot` (its JSON) on your own HTTP server. */
export type DashboardHandler = (req: IncomingMessage, res: ServerResponse) => void;

const gzipAsync = promisify(gzip);

interface Page {
  raw: Buffer;
  gzipped: Buffer;
}

/** The built page: next to the bundled module in dist, or in dist when the sources run (tests). */
/** The page with `config` in its JSON slot: `<` escaped, so no value can close the script element. */
async function loadPage(config: PageConfig): Promise<Page> {
  const candidates = [new URL('./dashboard.html', import.meta.url), new URL('../../dist/dashboard.html', import.meta.url)];
  const json = JSON.stringify(config).replaceAll('<', '\\u003c');
  let lastError: unknown;
  for (const url of candidates) {
    try {
      const raw = Buffer.from((await readFile(url, 'utf8')).replace('/*CONFIG*/', () => json));
      return { raw, gzipped: await gzipAsync(raw) };
    } catch (error) {
      lastError = error;
    }
  }
  throw lastError;
}

function digest(value: string): Buffer {
  return createHash('sha256').update(value).digest();
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'cache-control': 'no-store', 'x-content-type-options': 'nosniff', ...headers }).end(body);
}

/** The page and its snapshot (from `snapshotJson`: this process's exposition parts, or a cluster group's). */
export function createDashboardHandler(snapshotJson: () => Promise<string>, options: DashboardOptions, notices: Notices): DashboardHandler {
  let token: Buffer | undefined;
  if (typeof options.token === 'string' && options.token !== '') token = digest(options.token);
  else if (options.token !== undefined) {
    // Asked for protection but gave no usable token: stay closed rather than open.
    notices.warn('dashboard_token', 'dashboard { token } must be a non-empty string; the page refuses every request');
    token = randomBytes(32);
  }
  const config: PageConfig = { slo: sloSettings(options.slo, notices) };
  let page: Promise<Page> | undefined;
  // Several tabs polling at once share one collection.
  let inFlight: Promise<string> | undefined;

  const authorized = (req: IncomingMessage, url: URL): boolean => {
    if (token === undefined) return true;
    const header = req.headers.authorization;
    const offered = header?.startsWith('Bearer ') ? header.slice(7) : url.searchParams.get('token');
    // Hashing first makes the comparison constant-time whatever the length offered.
    return offered !== null && offered !== undefined && timingSafeEqual(digest(offered), token);
  };

  const snapshot = (): Promise<string> => {
    inFlight ??= snapshotJson().finally(() => {
      inFlight = undefined;
    });
    return inFlight;
  };

  const handler: DashboardHandler = (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://localhost');
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return send(res, 405, { allow: 'GET, HEAD', 'content-type': 'text/plain' }, 'Method not allowed\n');
      }
      if (!authorized(req, url)) {
        return send(res, 401, { 'www-authenticate': 'Bearer', 'content-type': 'text/plain' }, 'A valid metrics token is required\n');
      }
      if (url.pathname.endsWith('/snapshot')) {
        snapshot().then(
          (json) => send(res, 200, { 'content-type': 'application/json' }, json),
          (error: unknown) => {
            notices.warn('dashboard_snapshot', `the dashboard snapshot failed (${errorText(error)}); later failures are not printed`);
            send(res, 503, { 'content-type': 'text/plain' }, 'Metrics are not available\n');
          },
        );
        return;
      }
      page ??= loadPage(config);
      page.then(
        ({ raw, gzipped }) => {
          const zipped = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
          const headers: Record<string, string> = {
            'content-type': 'text/html; charset=utf-8',
            'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src data:",
            vary: 'accept-encoding',
          };
          if (zipped) headers['content-encoding'] = 'gzip';
          send(res, 200, headers, req.method === 'HEAD' ? '' : zipped ? gzipped : raw);
        },
        (error: unknown) => {
          page = undefined;
          notices.warn('dashboard_page', `the dashboard page is missing from the package (${errorText(error)}); was it built?`);
          send(res, 500, { 'content-type': 'text/plain' }, 'The dashboard page is missing from this build\n');
        },
      );
    } catch (error) {
      notices.warn('dashboard_request', `a dashboard request failed (${errorText(error)}); later failures are not printed`);
      send(res, 500, { 'content-type': 'text/plain' }, 'Dashboard error\n');
    }
  };

  return handler;
}
