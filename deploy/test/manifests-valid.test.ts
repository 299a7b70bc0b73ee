import { describe, expect, it } from 'vitest';
import { rendered, VALUE_SET_NAMES, VARIANTS } from './support/render';
import { validateManifest } from './support/validate';

// Every manifest the chart renders, for every value set, against the Kubernetes schemas
// (kubernetes-models, @kubernetes-models/prometheus-operator), unknown fields included.
const sets = [...VALUE_SET_NAMES, ...(Object.keys(VARIANTS) as (keyof typeof VARIANTS)[])];

describe.each(sets)('%s values: every rendered manifest is valid', (set) => {
  const manifests = rendered(set);

  it('renders something', () => {
    expect(manifests.length).toBeGreaterThan(10);
  });

  it.each(manifests.map((m) => [`${m.kind}/${m.metadata.name}`, m] as const))('%s', async (_, manifest) => {
    expect(await validateManifest(manifest)).toEqual([]);
  });
});

describe('the validator', () => {
  it('rejects a wrong type and an unknown field', async () => {
    const problems = await validateManifest({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'x' },
      spec: {
        selector: { matchLabels: { a: 'b' } },
        template: {
          metadata: { labels: { a: 'b' } },
          spec: { containers: [{ name: 'c', image: 'i', ports: [{ containerPort: 'http' }], readinesProbe: {} }] },
        },
      },
    });
    expect(problems.join('\n')).toMatch(/containerPort must be integer/);
    expect(problems.join('\n')).toMatch(/containers\/0\/readinesProbe: not a field/);
  });

  it('knows no schema for a kind it cannot check', async () => {
    await expect(validateManifest({ apiVersion: 'example.com/v1', kind: 'Widget', metadata: { name: 'w' } })).rejects.toThrow(/no schema/);
  });
});
