import fs from 'node:fs/promises';
import type http from 'node:http';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { AddressInfo } from 'node:net';
import { serve, type ServerType } from '@hono/node-server';
import { Hono } from 'hono';
import { createApiApp, type ApiDeps } from '../api/app.js';
import { installProblemHandlers } from '../api/problem.js';
import { consoleRoutes, type ConsoleDeps } from './routes.js';

/** The API (and, unless turned off, the console) on a localhost port: `npm start` and `npm run console`. */

export interface ApiServerOptions {
  api: ApiDeps;
  /** The console's operator reads; omitted with `--no-console`. */
  console?: Omit<ConsoleDeps, 'bucket'>;
  port?: number;
  host?: string;
}

export interface ApiServer {
  url: string;
  consoleUrl: string | null;
  close(): Promise<void>;
}

const STATIC_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'static');
const UPLOT_DIR = path.dirname(createRequire(import.meta.url).resolve('uplot'));
/** The charting library, served from node_modules as installed: no network, no build step. */
const VENDOR: Record<string, [string, string]> = {
  'uPlot.iife.min.js': [path.join(UPLOT_DIR, 'uPlot.iife.min.js'), 'text/javascript; charset=utf-8'],
  'uPlot.min.css': [path.join(UPLOT_DIR, 'uPlot.min.css'), 'text/css; charset=utf-8'],
};
const STATIC_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
};

export function apiServerApp(opts: ApiServerOptions): Hono {
  const app = new Hono();
  installProblemHandlers(app);
  if (opts.console) {
    const c = opts.console;
    app.route('/console/api', consoleRoutes({ ...c, bucket: opts.api.config.bucket }));
    app.get('/', async (ctx) => ctx.html(await fs.readFile(path.join(STATIC_DIR, 'index.html'), 'utf8')));
    app.get('/static/:file', async (ctx) => {
      const file = ctx.req.param('file');
      const type = STATIC_TYPES[path.extname(file)];
      if (!type || file.includes('/') || file.startsWith('.')) return ctx.notFound();
      try {
        return ctx.body(await fs.readFile(path.join(STATIC_DIR, file)), 200, { 'content-type': type });
      } catch {
        return ctx.notFound();
      }
    });
    app.get('/vendor/:file', async (ctx) => {
      const v = VENDOR[ctx.req.param('file')];
      if (!v) return ctx.notFound();
      return ctx.body(await fs.readFile(v[0]), 200, { 'content-type': v[1] });
    });
  }
  app.route('/', createApiApp(opts.api));
  return app;
}

export async function startApiServer(opts: ApiServerOptions): Promise<ApiServer> {
  const host = opts.host ?? '127.0.0.1';
  const app = apiServerApp(opts);
  const server: ServerType = await new Promise((resolve, reject) => {
    const s = serve({ fetch: app.fetch, port: opts.port ?? 0, hostname: host }, () => resolve(s));
    s.once('error', reject);
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${host}:${port}`;
  return {
    url,
    consoleUrl: opts.console ? `${url}/` : null,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        // Browsers keep connections open: without this, close waits for them to time out.
        (server as http.Server).closeAllConnections?.();
      }),
  };
}
