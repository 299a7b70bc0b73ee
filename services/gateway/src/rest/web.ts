import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';

/**
 * The web app's Content-Security-Policy. The app talks only to the gateway that serves it, so
 * connect-src is that origin (`'self'`, which CSP 3 browsers also match for ws/wss to the same
 * host) plus the WebSocket form of each WEB_ORIGIN spelled out for browsers that do not, and
 * Supabase when configured. Never any `ws:`/`wss:` host: injected script could then send the
 * call's TURN credentials or passcode anywhere.
 */
export function webCsp(supabaseUrl: string | undefined, webOrigins: readonly string[] = [], janusUrls: readonly string[] = []): string {
  const connect = ["'self'"];
  for (const origin of webOrigins) {
    if (!URL.canParse(origin)) continue;
    const u = new URL(origin);
    const ws = `${u.protocol === 'https:' ? 'wss:' : 'ws:'}//${u.host}`;
    if (!connect.includes(ws)) connect.push(ws);
  }
  if (supabaseUrl) connect.push(new URL(supabaseUrl).origin);
  // The Janus nodes of sfu meetings, each by its exact origin.
  for (const url of janusUrls) {
    if (!URL.canParse(url)) continue;
    const u = new URL(url);
    const origin = `${u.protocol}//${u.host}`;
    if (!connect.includes(origin)) connect.push(origin);
  }
  return [
    "default-src 'self'",
    `connect-src ${connect.join(' ')}`,
    "media-src 'self' blob:",
    "img-src 'self' data: blob:",
    "style-src 'self'",
    "script-src 'self'",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');
}

/**
 * Serves the built web app: files as they are (hashed assets cached for good), and index.html
 * for any other GET outside /api, so client-side routes like /meet/<id> load the app.
 */
export function webApp(distDir: string, supabaseUrl: string | undefined, webOrigins: readonly string[] = [], janusUrls: readonly string[] = []): Router {
  const root = resolve(distDir);
  const indexHtml = join(root, 'index.html');
  if (!existsSync(indexHtml)) throw new Error(`WEB_DIST_DIR ${root} has no index.html (build the web app first)`);
  const csp = webCsp(supabaseUrl, webOrigins, janusUrls);
  const router = express.Router();
  router.use((req: Request, res: Response, next: NextFunction) => {
    if (req.path.startsWith('/api/') || req.path === '/api') return next();
    res.setHeader('Content-Security-Policy', csp);
    next();
  });
  router.use(
    express.static(root, {
      index: false,
      fallthrough: true,
      setHeaders(res, path) {
        res.setHeader('Cache-Control', path.includes(`${root}/assets/`) ? 'public, max-age=31536000, immutable' : 'no-cache');
      },
    }),
  );
  router.get('/{*path}', (req: Request, res: Response, next: NextFunction) => {
    if (req.path.startsWith('/api/') || req.path === '/api') return next();
    if (!req.accepts('html')) return next();
    res.setHeader('Cache-Control', 'no-cache');
    res.sendFile(indexHtml);
  });
  return router;
}
