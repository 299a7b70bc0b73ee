import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { containersOf, workloads } from './support/k8s';
import { repoDir, SHARED_IMAGE_SERVICES } from './support/paths';
import { find, type Manifest, RELEASE, render } from './support/render';

interface Artifact {
  image: string;
  context?: string;
  docker?: { dockerfile: string; target?: string; buildArgs?: Record<string, string> };
  requires?: { image: string; alias?: string }[];
  sync?: { manual?: { src: string; dest: string; strip?: string }[] };
}
interface HelmRelease {
  name: string;
  chartPath: string;
  valuesFiles?: string[];
  setValueTemplates?: Record<string, string>;
  setValues?: Record<string, unknown>;
}
interface Pipeline {
  build: { artifacts: Artifact[] };
  deploy: { helm: { releases: HelmRelease[] } };
  portForward?: { resourceType: string; resourceName: string; port: number; localPort: number }[];
}

const skaffold = parse(readFileSync(join(repoDir, 'skaffold.yaml'), 'utf8'), { merge: true }) as Pipeline & {
  apiVersion: string;
  profiles: (Partial<Pipeline> & { name: string; activation?: { command?: string }[] })[];
};

/** The base pipeline and each profile with its replacements applied, as skaffold runs them. */
const pipelines: [string, Pipeline][] = [
  ['base', skaffold],
  ...skaffold.profiles.map((p): [string, Pipeline] => [
    `profile ${p.name}`,
    { build: p.build ?? skaffold.build, deploy: p.deploy ?? skaffold.deploy, portForward: p.portForward },
  ]),
];

const stages = (dockerfile: string) =>
  [...readFileSync(join(repoDir, dockerfile), 'utf8').matchAll(/^FROM\s+\S+(?:\s+AS\s+(\S+))?/gim)].map((m) => m[1]?.toLowerCase());

/** Renders the release the way skaffold deploys it, with each image template filled in. */
function renderRelease(release: HelmRelease, artifacts: Artifact[]): Manifest[] {
  const byTemplateName = new Map(artifacts.map((a) => [a.image.replace(/[^A-Za-z0-9]/g, '_'), a.image]));
  const set: Record<string, string> = {};
  for (const [key, template] of Object.entries(release.setValueTemplates ?? {})) {
    set[key] = template.replace(/\{\{\s*\.IMAGE_(REPO|TAG)_(\w+)\s*\}\}/g, (_, part: string, name: string) => {
      const image = byTemplateName.get(name);
      if (!image) throw new Error(`setValueTemplates ${key} names IMAGE_${part}_${name}, which no artifact builds`);
      return part === 'REPO' ? image : 'skaffold';
    });
    if (set[key]?.includes('{{')) throw new Error(`setValueTemplates ${key}: unknown template ${template}`);
  }
  expect(release.chartPath).toBe('deploy/helm/lessoncall');
  // The tests render as this release; port-forwards and Service names depend on it.
  expect(release.name).toBe(RELEASE);
  return render({ valuesFiles: (release.valuesFiles ?? []).map((f) => join(repoDir, f)), setString: set });
}

describe('skaffold.yaml', () => {
  it('uses a current config version and activates the dev profile on `skaffold dev`', () => {
    expect(skaffold.apiVersion).toMatch(/^skaffold\/v4beta\d+$/);
    const dev = skaffold.profiles.find((p) => p.name === 'dev');
    expect(dev?.activation).toContainEqual({ command: 'dev' });
  });

  describe.each(pipelines)('%s', (_, pipeline) => {
    const artifacts = pipeline.build.artifacts;
    const [release] = pipeline.deploy.helm.releases;
    if (!release) throw new Error('no helm release');
    const manifests = renderRelease(release, artifacts);
    const images = new Set(workloads(manifests).flatMap((w) => containersOf(w.podSpec).map((c) => c.image as string)));

    it('builds one artifact per image', () => {
      const names = artifacts.map((a) => a.image);
      expect(new Set(names).size).toBe(names.length);
    });

    it.each(artifacts.map((a) => [a.image, a] as const))('%s is built from a Dockerfile that exists, from the repository root', (_, artifact) => {
      expect(artifact.context ?? '.').toBe('.');
      const dockerfile = artifact.docker?.dockerfile;
      expect(dockerfile, 'docker.dockerfile').toBeTruthy();
      expect(existsSync(join(repoDir, dockerfile as string)), `${dockerfile} exists`).toBe(true);
      if (artifact.docker?.target) expect(stages(dockerfile as string), `stage ${artifact.docker.target}`).toContain(artifact.docker.target);
      for (const dep of artifact.requires ?? []) {
        expect(
          artifacts.map((a) => a.image),
          `required ${dep.image}`,
        ).toContain(dep.image);
        if (dep.alias) expect(readFileSync(join(repoDir, dockerfile as string), 'utf8')).toMatch(new RegExp(`^ARG ${dep.alias}\\b`, 'm'));
      }
    });

    it.each(artifacts.map((a) => [a.image, a] as const))('%s is used by the chart (or by an image the chart uses)', (_, artifact) => {
      const used = (image: string): boolean =>
        images.has(`${image}:skaffold`) || artifacts.some((a) => a.requires?.some((r) => r.image === image) && used(a.image));
      expect(used(artifact.image), `${[...images].join(', ')}`).toBe(true);
    });

    it('builds every lessoncall image the chart runs', () => {
      const ours = [...images].filter((image) => image.split('/').pop()?.startsWith('lessoncall-'));
      expect(ours.filter((image) => !image.endsWith(':skaffold'))).toEqual([]);
    });

    it.each(SHARED_IMAGE_SERVICES)('builds lessoncall-%s from the shared service Dockerfile with SERVICE=%s', (service) => {
      const artifact = artifacts.find((a) => a.image === `lessoncall-${service}`);
      expect(artifact?.docker?.dockerfile).toBe('deploy/docker/service.Dockerfile');
      expect(artifact?.docker?.buildArgs).toEqual({ SERVICE: service });
    });

    it('passes SERVICE only to the shared Dockerfile, naming a service that exists', () => {
      for (const artifact of artifacts) {
        const service = artifact.docker?.buildArgs?.SERVICE;
        if (artifact.docker?.dockerfile !== 'deploy/docker/service.Dockerfile') {
          expect(service, artifact.image).toBeUndefined();
          continue;
        }
        expect(existsSync(join(repoDir, 'services', service ?? '(none)', 'src/main.ts')), `${artifact.image}: SERVICE=${service}`).toBe(true);
        expect(artifact.image).toBe(`lessoncall-${service}`);
      }
    });

    it('syncs sources to where the image keeps them', () => {
      for (const artifact of artifacts) {
        for (const rule of artifact.sync?.manual ?? []) {
          const dir = rule.src.split('*')[0] ?? '';
          expect(existsSync(join(repoDir, dir)), `${rule.src}`).toBe(true);
          expect(rule.dest).toBe('/app');
          expect(rule.src.startsWith(rule.strip ?? '')).toBe(true);
          expect(readFileSync(join(repoDir, artifact.docker?.dockerfile ?? ''), 'utf8')).toMatch(/^WORKDIR \/app$/m);
          // Sync writes into the container: only a dev stage's files belong to the app user.
          expect(artifact.docker?.target).toBe('dev');
        }
      }
    });

    it('port-forwards to Services the chart creates', () => {
      for (const forward of pipeline.portForward ?? []) {
        const service = find(manifests, 'Service', forward.resourceName);
        expect(service.spec.ports.map((p: { port: number }) => p.port)).toContain(forward.port);
      }
    });
  });

  it('the dev profile forwards the gateway (web app, REST, WebSocket) and runs the dev setup', () => {
    const dev = pipelines.find(([name]) => name === 'profile dev')?.[1];
    expect(dev?.portForward?.map((f) => f.resourceName)).toContain(`${RELEASE}-gateway`);
    expect(dev?.deploy.helm.releases[0]?.valuesFiles).toContain('deploy/helm/values-dev.yaml');
    expect(dev?.build.artifacts.map((a) => a.image)).toContain('lessoncall-dev-postgres');
  });
});
