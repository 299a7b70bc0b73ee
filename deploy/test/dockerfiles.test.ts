import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { dockerDir, repoDir, SERVICES, SHARED_IMAGE_SERVICES } from './support/paths';

interface Instruction {
  keyword: string;
  args: string;
}

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function instructions(file: string): Instruction[] {
  const text = readFileSync(file, 'utf8').replace(/\\\r?\n/g, ' ');
  return text
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [keyword = '', ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

/** The instructions of the last stage: what `docker build` without --target produces. */
function finalStage(all: Instruction[]): Instruction[] {
  const lastFrom = all.map((i) => i.keyword).lastIndexOf('FROM');
  return all.slice(lastFrom);
}

function argDefault(all: Instruction[], name: string): string | undefined {
  return all.find((i) => i.keyword === 'ARG' && i.args.startsWith(`${name}=`))?.args.slice(name.length + 1);
}

// Node.js LTS lines and the end of their support (nodejs.org release schedule). A base image on
// a line past its end fails here: images must get security fixes.
const NODE_LTS_END: Record<number, string> = { 20: '2026-04-30', 22: '2027-04-30', 24: '2028-04-30' };

// Dockerfile → the workspace packages it builds.
// biome-ignore lint/suspicious/noTemplateCurlyInString: the shared Dockerfile's own ${SERVICE}, literally.
const serviceArg = '${SERVICE}';
const nodeImages: [string, readonly string[]][] = [
  ['gateway', ['gateway']],
  ['service', SHARED_IMAGE_SERVICES],
  ['web', []],
];

describe.each(nodeImages)('deploy/docker/%s.Dockerfile', (name, packages) => {
  const file = join(dockerDir, `${name}.Dockerfile`);
  const all = instructions(file);
  const last = finalStage(all);
  const pkgName = name === 'service' ? serviceArg : name;

  it('is multi-stage, on a supported Node.js LTS Debian slim base, without HEALTHCHECK', () => {
    expect(all.filter((i) => i.keyword === 'FROM').length).toBeGreaterThanOrEqual(2);
    expect(
      all.some((i) => i.keyword === 'HEALTHCHECK'),
      'Kubernetes probes, not HEALTHCHECK',
    ).toBe(false);
    const base = argDefault(all, 'NODE_IMAGE');
    const major = Number(base?.match(/^node:(\d+)-bookworm-slim$/)?.[1]);
    const end = NODE_LTS_END[major];
    expect(end, `${base} is a Node.js LTS line`).toBeTruthy();
    expect(Date.now(), `${base} is supported until ${end}`).toBeLessThan(Date.parse(end as string));
  });

  it('installs with the frozen lockfile and pnpm from packageManager', () => {
    const run = all
      .filter((i) => i.keyword === 'RUN')
      .map((i) => i.args)
      .join('\n');
    expect(run).toMatch(/pnpm install --frozen-lockfile --filter "@lessoncall\/([a-z]+|\$\{SERVICE\})\.\.\."/);
    expect(run).toMatch(/packageManager/);
  });

  if (name === 'web') {
    it('keeps only the built static files', () => {
      expect(last[0]?.args).toBe('scratch');
      expect(last.find((i) => i.keyword === 'COPY')?.args).toBe('--from=build /repo/web/dist /web');
    });
    return;
  }

  it("deploys only the package's production dependencies", () => {
    const run = all
      .filter((i) => i.keyword === 'RUN')
      .map((i) => i.args)
      .join('\n');
    expect(run).toContain(
      name === 'service'
        ? `pnpm --filter "@lessoncall/${serviceArg}" deploy --prod --legacy /out`
        : `pnpm --filter @lessoncall/${pkgName} deploy --prod --legacy /out`,
    );
  });

  if (name === 'service') {
    it('declares SERVICE in the stage that uses it, and refuses to build without a service that exists', () => {
      const buildStart = all.findIndex((i) => i.keyword === 'FROM' && / AS build$/i.test(i.args));
      const declared = all.findIndex((i, n) => n > buildStart && i.keyword === 'ARG' && i.args === 'SERVICE');
      const firstUse = all.findIndex((i) => i.keyword === 'RUN' && i.args.includes(serviceArg));
      expect(declared, 'ARG SERVICE after FROM … AS build (an ARG before FROM is not visible in the stage)').toBeGreaterThan(buildStart);
      expect(declared).toBeLessThan(firstUse);
      expect(all[firstUse]?.args).toContain(`test -f "services/${serviceArg}/src/main.ts"`);
    });
  }

  it('runs as a numeric non-root user, from root-owned files, the entry point the local stack runs', () => {
    const user = last.find((i) => i.keyword === 'USER')?.args ?? '';
    expect(user).toMatch(/^[1-9]\d*(:\d+)?$/);
    expect(
      last.filter((i) => i.keyword === 'COPY').every((i) => !i.args.includes('--chown')),
      'app files stay read-only to the app',
    ).toBe(true);
    expect(last.find((i) => i.keyword === 'WORKDIR')?.args).toBe('/app');
    expect(JSON.parse(last.find((i) => i.keyword === 'CMD')?.args ?? '[]')).toEqual(['node', '--import', 'tsx', 'src/main.ts']);
    for (const service of packages) {
      const pkg = JSON.parse(readFileSync(join(repoDir, 'services', service, 'package.json'), 'utf8'));
      expect(pkg.scripts.start, `${service}'s package.json start runs the same file`).toBe('tsx src/main.ts');
      expect(Object.keys(pkg.dependencies ?? {}), `tsx is a production dependency of ${service}`).toContain('tsx');
    }
  });

  it('has a dev stage for skaffold file sync, owned by the app user', () => {
    const devStart = all.findIndex((i) => i.keyword === 'FROM' && / AS dev$/i.test(i.args));
    expect(devStart).toBeGreaterThan(0);
    const dev = all.slice(
      devStart,
      all.findIndex((i, n) => n > devStart && i.keyword === 'FROM'),
    );
    expect(dev.some((i) => i.keyword === 'COPY' && i.args.includes('--chown=1000:1000'))).toBe(true);
    expect(dev.find((i) => i.keyword === 'USER')?.args).toBe('1000:1000');
  });

  if (name === 'gateway') {
    it('copies in the web app where WEB_DIST_DIR points', () => {
      expect(all.find((i) => i.keyword === 'FROM')?.args).toMatch(/^\$\{WEB_IMAGE\} AS web$/);
      expect(last.some((i) => i.keyword === 'COPY' && i.args === '--from=web /web /app/web')).toBe(true);
      const env = readFileSync(join(repoDir, 'deploy/helm/lessoncall/templates/_env.tpl'), 'utf8');
      expect(env).toMatch(/^WEB_DIST_DIR: \/app\/web$/m);
    });
  }
});

describe('service images', () => {
  it.each(SERVICES)('%s does not ship the stand-in booking system (tools/booking-system)', (service) => {
    const pkg = JSON.parse(readFileSync(join(repoDir, 'services', service, 'package.json'), 'utf8'));
    // `pnpm deploy --prod` copies dependencies only: a dev dependency stays out of the image.
    expect(Object.keys(pkg.dependencies ?? {})).not.toContain('@lessoncall/booking-system');
  });
});

describe('deploy/docker/dev-postgres.Dockerfile', () => {
  it('applies the bootstrap and migrations the repository has', () => {
    const all = instructions(join(dockerDir, 'dev-postgres.Dockerfile'));
    for (const copy of all.filter((i) => i.keyword === 'COPY')) {
      const source = copy.args.split(/\s+/)[0] as string;
      expect(existsSync(join(repoDir, source)), source).toBe(true);
    }
    expect(finalStage(all).find((i) => i.keyword === 'USER')?.args).toBe('999:999');
  });
});

describe('.dockerignore', () => {
  it('keeps installed, built, local and secret files out of the build context', () => {
    const lines = readFileSync(join(repoDir, '.dockerignore'), 'utf8').split('\n');
    for (const pattern of ['**/node_modules', '**/dist', '.git', '.local', '.env', '**/.env']) expect(lines).toContain(pattern);
    for (const needed of ['pnpm-lock.yaml', 'package.json', 'services', 'supabase', 'proto', 'web']) {
      expect(
        lines.filter((l) => l === needed || l === `${needed}/`),
        needed,
      ).toEqual([]);
    }
  });
});
