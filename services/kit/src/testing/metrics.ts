/** One sample of a Prometheus text page: `name{labels} value`. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const sampleLine = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/;
const labelPair = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Every sample in a Prometheus text page (`runtime.metrics.text()`, a /metrics body). */
export function samples(text: string): Sample[] {
  return text.split('\n').flatMap((line) => {
    const m = line.startsWith('#') ? null : sampleLine.exec(line);
    if (!m?.[1] || m[3] === undefined) return [];
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(labelPair)].map((p) => [p[1], p[2]]));
    return [{ name: m[1], labels, value: Number(m[3]) }];
  });
}

/** The sum of the samples of `name` whose labels include `labels`, each equal or matching a pattern (0 when there is none). */
export function metricValue(text: string, name: string, labels: Record<string, string | RegExp> = {}): number {
  const wanted = (s: Sample) => Object.entries(labels).every(([k, v]) => (typeof v === 'string' ? s.labels[k] === v : v.test(s.labels[k] ?? '')));
  return samples(text)
    .filter((s) => s.name === name && wanted(s))
    .reduce((sum, s) => sum + s.value, 0);
}
