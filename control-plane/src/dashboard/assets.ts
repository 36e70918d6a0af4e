// The dashboard's static files (plain HTML, CSS and JS: no build step), read once at
// startup and served by the admin port.
import { readFileSync } from 'node:fs';

const UI = new URL('./ui/', import.meta.url);

interface Asset {
  readonly contentType: string;
  readonly body: Buffer;
}

const ASSETS: Readonly<Record<string, Asset>> = {
  '/': { contentType: 'text/html; charset=utf-8', body: readFileSync(new URL('index.html', UI)) },
  '/dashboard.js': { contentType: 'text/javascript; charset=utf-8', body: readFileSync(new URL('dashboard.js', UI)) },
  '/dashboard.css': { contentType: 'text/css; charset=utf-8', body: readFileSync(new URL('dashboard.css', UI)) },
};

export function dashboardAsset(path: string): Asset | undefined {
  return ASSETS[path === '/dashboard' ? '/' : path];
}
