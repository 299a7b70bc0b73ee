import type { Manifest } from './render';

// biome-ignore lint/suspicious/noExplicitAny: pod specs are walked generically
type Any = any;

export interface Workload {
  manifest: Manifest;
  podSpec: Any;
  podLabels: Record<string, string>;
}

const WORKLOAD_KINDS = new Set(['Deployment', 'StatefulSet', 'DaemonSet', 'Job']);

export function workloads(manifests: Manifest[]): Workload[] {
  return manifests
    .filter((m) => WORKLOAD_KINDS.has(m.kind))
    .map((m) => ({ manifest: m, podSpec: m.spec.template.spec, podLabels: m.spec.template.metadata?.labels ?? {} }));
}

export function containersOf(podSpec: Any): Any[] {
  return [...(podSpec.initContainers ?? []), ...(podSpec.containers ?? [])];
}

export const matches = (selector: Record<string, string>, labels: Record<string, string>) => Object.entries(selector).every(([k, v]) => labels[k] === v);

export function matchesSelector(selector: Any, labels: Record<string, string>): boolean {
  if (!matches(selector.matchLabels ?? {}, labels)) return false;
  for (const expr of selector.matchExpressions ?? []) {
    const value = labels[expr.key];
    if (expr.operator === 'In' && !(value !== undefined && expr.values.includes(value))) return false;
    if (expr.operator === 'NotIn' && value !== undefined && expr.values.includes(value)) return false;
    if (expr.operator === 'Exists' && value === undefined) return false;
    if (expr.operator === 'DoesNotExist' && value !== undefined) return false;
  }
  return true;
}

/** The env var names a container gets: env entries plus every key of the ConfigMaps it loads. */
export function envOf(container: Any, manifests: Manifest[]): Map<string, Any> {
  const env = new Map<string, Any>();
  for (const source of container.envFrom ?? []) {
    const name = source.configMapRef?.name;
    if (!name) throw new Error(`container ${container.name}: envFrom other than a ConfigMap is not expected`);
    const cm = manifests.find((m) => m.kind === 'ConfigMap' && m.metadata.name === name);
    if (!cm) throw new Error(`container ${container.name}: ConfigMap ${name} is not in the chart`);
    for (const [key, value] of Object.entries(cm.data ?? {})) env.set(`${source.prefix ?? ''}${key}`, { value, from: `configmap ${name}` });
  }
  for (const entry of container.env ?? []) env.set(entry.name, entry.valueFrom ? { valueFrom: entry.valueFrom } : { value: entry.value });
  return env;
}
