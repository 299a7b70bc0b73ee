/**
 * The app's PeerLink (src/call/peer.ts), bundled on its own with Vite so a browser test can drive
 * two of them in one page — the cases a two-person call rarely hits by itself: both sides
 * offering at the same moment (glare), an ICE restart, a track swap.
 */
import { resolve } from 'node:path';
import { build, type Rollup } from 'vite';

let cached: string | undefined;

export async function peerLinkBundle(): Promise<string> {
  if (cached) return cached;
  const out = await build({
    configFile: false,
    logLevel: 'warn',
    build: {
      write: false,
      minify: false,
      lib: { entry: resolve(import.meta.dirname, '../src/call/peer.ts'), formats: ['iife'], name: 'LessoncallPeer', fileName: 'peer' },
    },
  });
  const result = (Array.isArray(out) ? out[0] : out) as Rollup.RollupOutput;
  const chunk = result.output.find((o): o is Rollup.OutputChunk => o.type === 'chunk');
  if (!chunk) throw new Error('no bundle for peer.ts');
  cached = chunk.code;
  return cached;
}
