import { readFileSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';

const DASHBOARD_DIR = new URL('./dashboard/', import.meta.url).pathname;
// The page loads only its own files and talks only to this API; nothing may frame it.
const CSP = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/** Chart.js's self-contained browser build, straight from node_modules (its exports map does not list it). */
function chartJsPath(): string {
  return join(dirname(createRequire(import.meta.url).resolve('chart.js')), 'chart.umd.min.js');
}

/**
 * The creator dashboard: a static page and script, no build step. Files are read once at
 * start-up; the page talks to the API's own routes.
 */
export function registerDashboardRoutes(app: FastifyInstance): void {
  const types: Record<string, string> = { js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };
  const files: [string, string, string, string][] = [
    ['/', join(DASHBOARD_DIR, 'index.html'), 'text/html; charset=utf-8', 'no-cache'],
    // the page's scripts (ES modules importing each other) and style
    ...readdirSync(DASHBOARD_DIR).flatMap((name): [string, string, string, string][] => {
      const type = types[name.slice(name.lastIndexOf('.') + 1)];
      return type === undefined ? [] : [[`/dashboard/${name}`, join(DASHBOARD_DIR, name), type, 'no-cache']];
    }),
    ['/vendor/chart.umd.min.js', chartJsPath(), 'text/javascript; charset=utf-8', 'public, max-age=86400'],
  ];
  for (const [url, path, type, cache] of files) {
    const body = readFileSync(path);
    app.get(url, { schema: { hide: true } }, async (_request, reply) =>
      reply
        .header('content-type', type)
        .header('cache-control', cache)
        .header('x-content-type-options', 'nosniff')
        .header('content-security-policy', CSP)
        .send(body),
    );
  }
}
