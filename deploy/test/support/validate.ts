import type { Manifest } from './render';

type ModelClass = { prototype: { validate(): void } };

/** Where the schema of each apiVersion/kind comes from: kubernetes-models and its CRD packages. */
async function modelFor(apiVersion: string, kind: string): Promise<ModelClass> {
  const [group, version] = apiVersion.includes('/') ? apiVersion.split('/') : ['', apiVersion];
  const modulePath =
    group === 'monitoring.coreos.com'
      ? `@kubernetes-models/prometheus-operator/${apiVersion}/${kind}`
      : group === 'cert-manager.io'
        ? `@kubernetes-models/cert-manager/${apiVersion}/${kind}`
        : `kubernetes-models/${group ? `${group}/` : ''}${version}/${kind}`;
  let module: Record<string, ModelClass>;
  try {
    module = await import(modulePath);
  } catch (cause) {
    throw new Error(`no schema for ${apiVersion} ${kind} (looked for ${modulePath}): the chart renders an API the checks cannot validate`, { cause });
  }
  const model = module[kind];
  if (!model) throw new Error(`${modulePath} exports no ${kind}`);
  return model;
}

/**
 * Records every property the schema validator reads. A property it never reads is not in the
 * schema: a typo or a field at the wrong level, which the API server would drop or reject.
 * (Maps such as labels are enumerated by the validator, so their keys count as read.)
 */
function tracked<T extends object>(value: T, path: string, read: Set<string>): T {
  return new Proxy(value, {
    get(target, key, receiver) {
      const child = Reflect.get(target, key, receiver);
      if (typeof key !== 'string') return child;
      read.add(`${path}/${key}`);
      return child !== null && typeof child === 'object' ? tracked(child, `${path}/${key}`, read) : child;
    },
    has(target, key) {
      if (typeof key === 'string') read.add(`${path}/${key}`);
      return Reflect.has(target, key);
    },
    ownKeys(target) {
      for (const key of Reflect.ownKeys(target)) if (typeof key === 'string') read.add(`${path}/${key}`);
      return Reflect.ownKeys(target);
    },
  });
}

function unread(value: unknown, path: string, read: Set<string>, out: string[]): void {
  if (value === null || typeof value !== 'object') return;
  for (const [key, child] of Object.entries(value)) {
    const childPath = `${path}/${key}`;
    if (read.has(childPath)) unread(child, childPath, read, out);
    else out.push(childPath);
  }
}

/** Problems with one manifest against the Kubernetes schema; empty when it is valid. */
export async function validateManifest(manifest: Manifest): Promise<string[]> {
  const model = await modelFor(manifest.apiVersion, manifest.kind);
  const read = new Set<string>();
  const problems: string[] = [];
  try {
    model.prototype.validate.call(tracked(structuredClone(manifest), '', read));
  } catch (err) {
    problems.push((err as Error).message);
  }
  const unknown: string[] = [];
  unread(manifest, '', read, unknown);
  for (const path of unknown) problems.push(`${path}: not a field of ${manifest.apiVersion} ${manifest.kind}`);
  return problems;
}
