import { cpSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import react from '@vitejs/plugin-react';
import { defineConfig, loadEnv, type Plugin, type ProxyOptions } from 'vite';

/**
 * Excalidraw's fonts, served by the app itself under /excalidraw/fonts (the board sets
 * EXCALIDRAW_ASSET_PATH to it): otherwise it fetches them from esm.sh, which the CSP refuses and
 * which a lesson should not depend on.
 */
function excalidrawFonts(): Plugin {
  let outDir = 'dist';
  return {
    name: 'lessoncall-excalidraw-fonts',
    apply: 'build',
    configResolved(c) {
      outDir = resolve(c.root, c.build.outDir);
    },
    closeBundle() {
      // The package exports only its entry: dist/prod/index.js, beside dist/prod/fonts.
      const prod = dirname(createRequire(import.meta.url).resolve('@excalidraw/excalidraw'));
      cpSync(join(prod, 'fonts'), join(outDir, 'excalidraw', 'fonts'), { recursive: true });
    },
  };
}

// In dev, the gateway serves /api (REST and the WebSocket); the production build is served by
// the gateway itself (WEB_DIST_DIR), so the app always talks to its own origin.
export default defineConfig(({ mode }) => {
  const env = loadEnv(mode, import.meta.dirname, '');
  const gateway = env.VITE_GATEWAY_URL || 'http://localhost:8080';
  const api: ProxyOptions = {
    target: gateway,
    ws: true,
    changeOrigin: true,
    // The gateway accepts sockets only from its WEB_ORIGIN; through the dev proxy the page's
    // origin is Vite's, so present the gateway's own origin instead.
    configure(proxy) {
      const origin = new URL(gateway).origin;
      proxy.on('proxyReqWs', (req) => req.setHeader('origin', origin));
      proxy.on('proxyReq', (req) => {
        if (req.getHeader('origin')) req.setHeader('origin', origin);
      });
    },
  };
  return {
    plugins: [react(), excalidrawFonts()],
    server: { proxy: { '/api': api } },
    preview: { proxy: { '/api': api } },
    build: { target: 'es2022', sourcemap: true, chunkSizeWarningLimit: 600 },
  };
});
