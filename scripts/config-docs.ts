/**
 * The README's configuration table, made from each service's config schema (the keys, their
 * defaults) and the doc comment above each key. `--check` fails when the README is stale.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { z } from 'zod';

const root = join(import.meta.dirname, '..');
const services = ['gateway', 'meeting', 'participant', 'signaling', 'turn', 'media'] as const;
const kitConfig = readFileSync(join(root, 'services/kit/src/config.ts'), 'utf8');

/** `/** text *\/` directly above `KEY:` in a source file. */
function docComments(source: string): Map<string, string> {
  const docs = new Map<string, string>();
  const re = /\/\*\*((?:(?!\*\/)[\s\S])*?)\*\/\s*\n\s*([A-Z][A-Z0-9_]+):/g;
  for (const m of source.matchAll(re)) {
    const text = (m[1] ?? '')
      .split('\n')
      .map((l) => l.replace(/^\s*\*\s?/, '').trim())
      .join(' ')
      .replace(/\s+/g, ' ')
      .trim();
    docs.set(m[2] as string, text);
  }
  return docs;
}

function describeDefault(schema: z.ZodType): string {
  const def = (schema as unknown as { _zod: { def: { type: string; defaultValue?: unknown; innerType?: z.ZodType } } })._zod.def;
  if (def.type === 'default') {
    const v = typeof def.defaultValue === 'function' ? (def.defaultValue as () => unknown)() : def.defaultValue;
    if (typeof v === 'string' && /^gw-\d+$/.test(v)) return '`gw-<pid>`';
    return v === '' ? '(empty)' : `\`${String(v)}\``;
  }
  if (def.type === 'optional') return '(optional)';
  if (def.type === 'pipe' && def.innerType) return describeDefault(def.innerType);
  return '**required**';
}

const common = docComments(kitConfig);
const rows: string[] = ['| variable | services | default | what it is |', '| --- | --- | --- | --- |'];
const byKey = new Map<string, { services: string[]; defaults: string[]; doc: string }>();
for (const name of services) {
  const file = join(root, 'services', name, 'src/config.ts');
  const { configSchema } = (await import(file)) as { configSchema: Record<string, z.ZodType> };
  const docs = docComments(readFileSync(file, 'utf8'));
  for (const [key, schema] of Object.entries(configSchema)) {
    const entry = byKey.get(key) ?? { services: [], defaults: [], doc: docs.get(key) ?? common.get(key) ?? '' };
    entry.services.push(name);
    entry.defaults.push(describeDefault(schema));
    byKey.set(key, entry);
  }
}
const all = services.length;
for (const [key, e] of [...byKey].sort(([a], [b]) => byKey.get(b)!.services.length - byKey.get(a)!.services.length || a.localeCompare(b))) {
  const who = e.services.length === all ? 'all' : e.services.join(', ');
  const defaults = new Set(e.defaults).size === 1 ? e.defaults[0] : e.services.map((svc, k) => `${svc}: ${e.defaults[k]}`).join('; ');
  rows.push(`| \`${key}\` | ${who} | ${defaults} | ${e.doc.replace(/\|/g, '\\|')} |`);
}
const table = rows.join('\n');

const readmePath = join(root, 'README.md');
const readme = readFileSync(readmePath, 'utf8');
const start = '<!-- config:start -->';
const end = '<!-- config:end -->';
const i = readme.indexOf(start);
const j = readme.indexOf(end);
if (i < 0 || j < 0) throw new Error('README.md has no config markers');
const next = `${readme.slice(0, i + start.length)}\n${table}\n${readme.slice(j)}`;
if (process.argv.includes('--check')) {
  if (next !== readme) {
    console.error('README.md configuration table is stale: run `pnpm exec tsx scripts/config-docs.ts`');
    process.exit(1);
  }
  console.log('README configuration table is current');
} else {
  writeFileSync(readmePath, next);
  console.log(`README configuration table: ${byKey.size} variables`);
}
