import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import express, { type NextFunction, type Request, type Response, type Router } from 'express';

/** The web app's Content-Security-Policy: its own origin, the gateway's WebSocket, and Supabase when configured. */
export function webCsp(supabaseUrl: string | undefined): string {
  const connect = ["'self'", 'ws:', 'wss:'];
  if (supabaseUrl) connect.push(new URL(supabaseUrl).origin);
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
export function webApp(distDir: string, supabaseUrl: string | undefined): Router {
  const root = resolve(distDir);
  const indexHtml = join(root, 'index.html');
  if (!existsSync(indexHtml)) throw new Error(`WEB_DIST_DIR ${root} has no index.html (build the web app first)`);
  const csp = webCsp(supabaseUrl);
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
