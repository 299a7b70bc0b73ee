import react from '@vitejs/plugin-react';
import { defineConfig, loadEnv, type ProxyOptions } from 'vite';

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
    plugins: [react()],
    server: { proxy: { '/api': api } },
    preview: { proxy: { '/api': api } },
    build: { target: 'es2022', sourcemap: true, chunkSizeWarningLimit: 600 },
  };
});
