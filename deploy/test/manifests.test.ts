import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { containersOf, envOf, matches, matchesSelector, workloads } from './support/k8s';
import { repoDir, SERVICES } from './support/paths';
import { componentName, find, type Manifest, RELEASE, render, rendered, VALUE_SET_NAMES, VARIANTS } from './support/render';

const ALL_SETS = [...VALUE_SET_NAMES, ...(Object.keys(VARIANTS) as (keyof typeof VARIANTS)[])];
const msToSeconds = (ms: string) => Math.ceil(Number(ms) / 1000);

describe.each(ALL_SETS)('%s values', (set) => {
  const manifests = rendered(set);
  const pods = workloads(manifests);
  // The dev profile syncs sources into our containers, so their root filesystem is writable there.
  const syncedContainers = set === 'dev' ? new Set<string>(SERVICES) : new Set<string>();

  describe.each(pods.map((w) => [`${w.manifest.kind}/${w.manifest.metadata.name}`, w] as const))('%s', (_, workload) => {
    const { podSpec } = workload;
    it.each(containersOf(podSpec).map((c) => [c.name, c] as const))('container %s has probes, limits and a locked-down security context', (name, c) => {
      expect(c.livenessProbe, 'livenessProbe').toBeTruthy();
      expect(c.readinessProbe, 'readinessProbe').toBeTruthy();
      expect(c.resources?.requests?.cpu, 'requests.cpu').toBeTruthy();
      expect(c.resources?.requests?.memory, 'requests.memory').toBeTruthy();
      expect(c.resources?.limits?.cpu, 'limits.cpu').toBeTruthy();
      expect(c.resources?.limits?.memory, 'limits.memory').toBeTruthy();
      const runAsNonRoot = c.securityContext?.runAsNonRoot ?? podSpec.securityContext?.runAsNonRoot;
      expect(runAsNonRoot, 'runAsNonRoot').toBe(true);
      const uid = c.securityContext?.runAsUser ?? podSpec.securityContext?.runAsUser;
      expect(uid, 'a numeric non-root runAsUser').toBeGreaterThan(0);
      expect(c.securityContext?.allowPrivilegeEscalation, 'allowPrivilegeEscalation').toBe(false);
      expect(c.securityContext?.capabilities?.drop, 'capabilities.drop').toContain('ALL');
      // coturn's binary carries a file capability it cannot exec without; nothing else is added.
      expect(
        (c.securityContext?.capabilities?.add ?? []).filter((cap: string) => cap !== 'NET_BIND_SERVICE'),
        'added capabilities',
      ).toEqual([]);
      expect(c.securityContext?.readOnlyRootFilesystem, 'readOnlyRootFilesystem').toBe(!syncedContainers.has(name));
      expect(c.image, 'image has a tag').toMatch(/:[^/]+$/);
    });

    it('has no service account token and a seccomp profile', () => {
      expect(podSpec.automountServiceAccountToken).toBe(false);
      expect(podSpec.securityContext?.seccompProfile?.type).toBe('RuntimeDefault');
      expect(podSpec.hostPID ?? false).toBe(false);
      expect(podSpec.hostIPC ?? false).toBe(false);
    });

    it('references objects that exist (or that the operator provides)', () => {
      const volumes = [
        ...(podSpec.volumes ?? []),
        ...(workload.manifest.spec.volumeClaimTemplates ?? []).map((t: { metadata: { name: string } }) => t.metadata),
      ];
      const sa = manifests.find((m) => m.kind === 'ServiceAccount' && m.metadata.name === podSpec.serviceAccountName);
      expect(sa, `ServiceAccount ${podSpec.serviceAccountName}`).toBeTruthy();
      for (const volume of podSpec.volumes ?? []) {
        if (volume.configMap)
          expect(
            manifests.some((m) => m.kind === 'ConfigMap' && m.metadata.name === volume.configMap.name),
            volume.configMap.name,
          ).toBe(true);
      }
      for (const c of containersOf(podSpec)) {
        for (const mount of c.volumeMounts ?? []) expect(volumes.map((v: { name: string }) => v.name)).toContain(mount.name);
      }
    });
  });

  it.each(SERVICES)('%s probes /healthz and /readyz on its health port', (service) => {
    const d = find(manifests, 'Deployment', componentName(service));
    const [c] = d.spec.template.spec.containers;
    const port = c.ports.find((p: { name: string }) => p.name === c.livenessProbe.httpGet.port);
    expect(port, 'the probed port is declared').toBeTruthy();
    expect(c.livenessProbe.httpGet.path).toBe('/healthz');
    expect(c.startupProbe.httpGet.path).toBe('/healthz');
    expect(c.readinessProbe.httpGet.path).toBe('/readyz');
    const env = envOf(c, manifests);
    if (service === 'gateway') expect(port.containerPort).toBe(Number(env.get('PORT')?.value ?? 8080));
    else expect(port.containerPort).toBe(Number(env.get('HEALTH_PORT')?.value));
  });

  it('gives the gateway a termination grace longer than its socket drain', () => {
    const d = find(manifests, 'Deployment', componentName('gateway'));
    const spec = d.spec.template.spec;
    const [c] = spec.containers;
    const env = envOf(c, manifests);
    const drainMs = env.get('DRAIN_TIMEOUT_MS')?.value ?? '10000';
    const shutdownMs = env.get('SHUTDOWN_TIMEOUT_MS')?.value ?? '15000';
    const preStop = Number(c.lifecycle?.preStop?.exec?.command?.[1] ?? 0);
    // The process exits by SHUTDOWN_TIMEOUT_MS at the latest, so that must outlast the drain…
    expect(Number(shutdownMs)).toBeGreaterThan(Number(drainMs));
    // …and the kubelet must not SIGKILL before preStop + the whole shutdown.
    expect(spec.terminationGracePeriodSeconds).toBeGreaterThan(preStop + msToSeconds(drainMs));
    expect(spec.terminationGracePeriodSeconds).toBeGreaterThan(preStop + msToSeconds(shutdownMs));
  });

  it.each(SERVICES.filter((s) => s !== 'gateway'))('%s gets a termination grace longer than its shutdown timeout', (service) => {
    const d = find(manifests, 'Deployment', componentName(service));
    const env = envOf(d.spec.template.spec.containers[0], manifests);
    expect(d.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(msToSeconds(env.get('SHUTDOWN_TIMEOUT_MS')?.value ?? '15000'));
  });

  it('puts no Secret value into a ConfigMap or a literal env value', () => {
    const secretValues = manifests
      .filter((m) => m.kind === 'Secret')
      .flatMap((m) => Object.values<string>(m.data ?? {}).map((v) => Buffer.from(v, 'base64').toString('utf8')))
      .concat(manifests.filter((m) => m.kind === 'Secret').flatMap((m) => Object.values<string>(m.stringData ?? {})));
    const plainText = [
      ...manifests.filter((m) => m.kind === 'ConfigMap').flatMap((m) => Object.values<string>(m.data ?? {})),
      ...pods.flatMap((w) =>
        containersOf(w.podSpec).flatMap((c) => [...(c.env ?? []).map((e: { value?: string }) => e.value ?? ''), ...(c.args ?? []), ...(c.command ?? [])]),
      ),
    ];
    for (const secret of secretValues) {
      for (const text of plainText) expect(text.includes(secret), `a Secret value appears in "${text.slice(0, 60)}…"`).toBe(false);
    }
    if (set === 'dev' || set === 'external-nats-created-secret') expect(secretValues.length).toBeGreaterThan(0);
  });

  it('takes every secret from a Secret, never from a ConfigMap or a literal', () => {
    const secretish = /SECRET|PASSWORD|DATABASE_URL|TOKEN/;
    for (const w of pods) {
      for (const c of containersOf(w.podSpec)) {
        for (const [name, source] of envOf(c, manifests)) {
          if (secretish.test(name) && name !== 'DEV_ISSUER_ENABLED') {
            expect(source.valueFrom?.secretKeyRef, `${w.manifest.metadata.name}/${c.name} ${name}`).toBeTruthy();
          }
        }
      }
    }
  });

  it('enables the dev token issuer only in the dev values', () => {
    const gateway = find(manifests, 'Deployment', componentName('gateway'));
    const env = envOf(gateway.spec.template.spec.containers[0], manifests);
    expect(env.has('DEV_ISSUER_ENABLED')).toBe(set === 'dev');
  });

  it('routes the ingress to the gateway, with timeouts long enough for WebSockets', () => {
    const ingress = manifests.find((m) => m.kind === 'Ingress' && !m.metadata.name.endsWith('-ws'));
    if (set === 'dev') {
      expect(ingress).toBeUndefined();
      return;
    }
    expect(ingress).toBeTruthy();
    const service = find(manifests, 'Service', componentName('gateway'));
    for (const rule of ingress?.spec.rules ?? []) {
      for (const path of rule.http.paths) {
        expect(path.backend.service.name).toBe(service.metadata.name);
        expect(service.spec.ports.map((p: { name: string }) => p.name)).toContain(path.backend.service.port.name);
      }
    }
    const annotations = ingress?.metadata.annotations ?? {};
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThanOrEqual(3600);
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-send-timeout'])).toBeGreaterThanOrEqual(3600);
    // REST has no meeting key: only the WebSocket's own Ingress is hashed.
    expect(annotations['nginx.ingress.kubernetes.io/upstream-hash-by']).toBeUndefined();
  });

  type IngressRule = { http: { paths: Array<{ path: string; pathType: string; backend: { service: { name: string } } }> } };
  it("hashes the WebSocket by its ?meeting= routing key, so that a lesson's sockets share a gateway", () => {
    const ws = manifests.find((m) => m.kind === 'Ingress' && m.spec.rules.some((r: IngressRule) => r.http.paths.some((p) => p.path === '/api/video/ws')));
    if (set === 'dev') {
      expect(ws).toBeUndefined();
      return;
    }
    const paths = ws?.spec.rules.flatMap((r: IngressRule) => r.http.paths) ?? [];
    expect(paths).toEqual([expect.objectContaining({ path: '/api/video/ws', pathType: 'Exact' })]);
    expect(paths[0].backend.service.name).toBe(find(manifests, 'Service', componentName('gateway')).metadata.name);
    const annotations = ws?.metadata.annotations ?? {};
    expect(annotations['nginx.ingress.kubernetes.io/upstream-hash-by']).toBe('$arg_meeting');
    expect(Number(annotations['nginx.ingress.kubernetes.io/proxy-read-timeout'])).toBeGreaterThanOrEqual(3600);
  });

  it('selects pods with every Service, PodDisruptionBudget and HorizontalPodAutoscaler', () => {
    for (const svc of manifests.filter((m) => m.kind === 'Service' && m.spec.selector)) {
      const target = pods.find((w) => matches(svc.spec.selector, w.podLabels));
      expect(target, `Service ${svc.metadata.name} selects a pod`).toBeTruthy();
      for (const port of svc.spec.ports) {
        if (typeof port.targetPort !== 'string') continue;
        const names = containersOf(target?.podSpec).flatMap((c) => (c.ports ?? []).map((p: { name: string }) => p.name));
        expect(names, `Service ${svc.metadata.name} port ${port.targetPort}`).toContain(port.targetPort);
      }
    }
    for (const pdb of manifests.filter((m) => m.kind === 'PodDisruptionBudget')) {
      expect(
        pods.filter((w) => matchesSelector(pdb.spec.selector, w.podLabels)),
        `PDB ${pdb.metadata.name}`,
      ).toHaveLength(1);
    }
    for (const hpa of manifests.filter((m) => m.kind === 'HorizontalPodAutoscaler')) {
      const target = find(manifests, hpa.spec.scaleTargetRef.kind, hpa.spec.scaleTargetRef.name);
      expect(target.spec.replicas, `${target.metadata.name} leaves replicas to its HPA`).toBeUndefined();
    }
  });

  it('autoscales the gateway and signaling (outside dev) and keeps a PDB on every replicated workload', () => {
    const hpas = manifests.filter((m) => m.kind === 'HorizontalPodAutoscaler').map((m) => m.spec.scaleTargetRef.name);
    if (set === 'dev') expect(hpas).toEqual([]);
    else expect(hpas.sort()).toEqual([componentName('gateway'), componentName('signaling')]);
    for (const w of pods) {
      const replicated = (w.manifest.spec.replicas ?? 2) > 1;
      const pdb = manifests.find((m) => m.kind === 'PodDisruptionBudget' && matchesSelector(m.spec.selector, w.podLabels));
      if (replicated) expect(pdb, `PDB for ${w.manifest.metadata.name}`).toBeTruthy();
    }
  });

  it('spreads replicated services over zones and nodes', () => {
    if (set === 'dev') return;
    for (const service of SERVICES) {
      const d = find(manifests, 'Deployment', componentName(service));
      const keys = (d.spec.template.spec.topologySpreadConstraints ?? []).map((t: { topologyKey: string }) => t.topologyKey);
      expect(keys).toEqual(['topology.kubernetes.io/zone', 'kubernetes.io/hostname']);
    }
  });

  it('serves the gateway /metrics on a port only a ClusterIP Service and the ServiceMonitor reach, never the ingress', () => {
    const d = find(manifests, 'Deployment', componentName('gateway'));
    const [c] = d.spec.template.spec.containers;
    const env = envOf(c, manifests);
    const metricsPort = c.ports.find((p: { name: string }) => p.name === 'metrics');
    expect(metricsPort?.containerPort).toBe(Number(env.get('HEALTH_PORT')?.value));
    expect(metricsPort?.containerPort).not.toBe(Number(env.get('PORT')?.value));
    const publicService = find(manifests, 'Service', componentName('gateway'));
    expect(publicService.spec.ports.map((p: { targetPort: string }) => p.targetPort)).toEqual(['http']);
    const metricsService = find(manifests, 'Service', `${componentName('gateway')}-metrics`);
    expect([metricsService.spec.type, metricsService.spec.ports.map((p: { name: string }) => p.name)]).toEqual(['ClusterIP', ['metrics']]);
    for (const ingress of manifests.filter((m) => m.kind === 'Ingress')) {
      const backends = ingress.spec.rules.flatMap(
        (r: { http: { paths: { backend: { service: { name: string; port: { name?: string; number?: number } } } }[] } }) =>
          r.http.paths.map((p) => p.backend.service),
      );
      for (const b of backends) expect([b.name, b.port.name ?? b.port.number]).not.toEqual([metricsService.metadata.name, 'metrics']);
      expect(backends.map((b: { name: string }) => b.name)).not.toContain(metricsService.metadata.name);
    }
    for (const monitor of manifests.filter((m) => m.kind === 'ServiceMonitor')) {
      expect(monitor.spec.endpoints.map((e: { port: string }) => e.port)).toEqual(['metrics']);
    }
    if (d.spec.template.metadata.annotations?.['prometheus.io/port']) expect(d.spec.template.metadata.annotations['prometheus.io/port']).toBe('9090');
  });

  describe('network policies', () => {
    const policies = manifests.filter((m) => m.kind === 'NetworkPolicy');
    const policiesFor = (labels: Record<string, string>) => policies.filter((p) => matchesSelector(p.spec.podSelector, labels));
    const fromOutside = (rule: { from?: { ipBlock?: unknown }[] }) => !rule.from || rule.from.length === 0 || rule.from.some((peer) => peer.ipBlock);

    it('covers every pod not on the host network, in both directions', () => {
      for (const w of pods.filter((w) => !w.podSpec.hostNetwork)) {
        const mine = policiesFor(w.podLabels);
        expect(mine.length, `a NetworkPolicy selects ${w.manifest.metadata.name}`).toBeGreaterThan(0);
        expect(mine.flatMap((p) => p.spec.policyTypes).sort()).toEqual(['Egress', 'Ingress']);
      }
    });

    it('lets only the gateway and coturn take traffic from outside the cluster', () => {
      for (const w of pods) {
        const component = w.podLabels['app.kubernetes.io/component'];
        const open = policiesFor(w.podLabels)
          .flatMap((p) => p.spec.ingress ?? [])
          .filter(fromOutside);
        if (component === 'gateway' || component === 'coturn') continue;
        expect(open, `${component} is reachable from outside`).toEqual([]);
      }
    });

    it('lets only the ingress controller reach the gateway when there is an ingress, and trusts its X-Forwarded-For by CIDR', () => {
      const d = find(manifests, 'Deployment', componentName('gateway'));
      const rules = policiesFor(d.spec.template.metadata.labels)
        .flatMap((p) => p.spec.ingress ?? [])
        .filter((r: { ports?: { port: number }[] }) => r.ports?.some((p) => p.port === 8080));
      const env = envOf(d.spec.template.spec.containers[0], manifests);
      const ingressOn = manifests.some((m) => m.kind === 'Ingress');
      expect(env.has('TRUST_PROXY_HOPS')).toBe(false);
      if (ingressOn) {
        expect(rules.map((r) => r.from)).toEqual([[{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } }]]);
        expect(env.get('TRUSTED_PROXY_CIDRS')?.value).toMatch(/^(\d+\.\d+\.\d+\.\d+\/\d+|[0-9a-f:]+\/\d+)(,.+)?$/);
      } else {
        expect(env.has('TRUSTED_PROXY_CIDRS')).toBe(false);
      }
    });

    it('lets the services reach only DNS, NATS, Postgres (meeting, participant, media), OTLP, the JWKS, and (media) the Janus Admin API and the bucket', () => {
      for (const service of SERVICES) {
        const d = find(manifests, 'Deployment', componentName(service));
        const egress = policiesFor(d.spec.template.metadata.labels).flatMap((p) => p.spec.egress ?? []);
        const ports = egress.flatMap((rule) => (rule.ports ?? []).map((p: { port: number }) => p.port));
        const allowed = new Set<number>([53, 4222, 4317, 4318]);
        if (service === 'meeting' || service === 'participant' || service === 'media') for (const p of [5432, 6543]) allowed.add(p);
        if (service === 'gateway') allowed.add(443);
        // The Janus nodes' Admin API (7188) and the recordings bucket (443).
        if (service === 'media') for (const p of [7188, 443]) allowed.add(p);
        for (const port of ports) expect(allowed.has(port), `${service} may reach port ${port}`).toBe(true);
        expect(ports).toContain(4222);
        for (const rule of egress) expect(rule.ports?.length, `${service}: an egress rule without ports opens everything`).toBeGreaterThan(0);
      }
    });
  });
});

describe('coturn', () => {
  const conf = (set: Parameters<typeof rendered>[0]) => {
    const cm = find(rendered(set), 'ConfigMap', componentName('coturn'));
    return cm.data['turnserver.conf'] as string;
  };
  const directives = (text: string) =>
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));

  it.each(ALL_SETS)('%s: has the production hardening', (set) => {
    const lines = directives(conf(set));
    for (const required of ['use-auth-secret', 'no-multicast-peers', 'no-cli', 'fingerprint']) expect(lines).toContain(required);
    for (const key of ['realm', 'user-quota', 'total-quota', 'min-port', 'max-port', 'max-bps', 'bps-capacity'])
      expect(
        lines.some((l) => l.startsWith(`${key}=`)),
        key,
      ).toBe(true);
    const denied = lines.filter((l) => l.startsWith('denied-peer-ip=')).map((l) => l.slice('denied-peer-ip='.length));
    expect(denied).toEqual(
      expect.arrayContaining([
        '0.0.0.0-0.255.255.255',
        '10.0.0.0-10.255.255.255',
        '100.64.0.0-100.127.255.255',
        '127.0.0.0-127.255.255.255',
        '169.254.0.0-169.254.255.255',
        '172.16.0.0-172.31.255.255',
        '192.168.0.0-192.168.255.255',
        '::1',
        'fc00::-fdff:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
        'fe80::-febf:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
        // Documentation, reserved 240/4, and the IPv6 prefixes that embed or translate to IPv4
        // (mapped, NAT64, 6to4, Teredo) or are discard-only: a relay through them reaches the
        // ranges above by another name.
        '192.0.2.0-192.0.2.255',
        '198.51.100.0-198.51.100.255',
        '203.0.113.0-203.0.113.255',
        '240.0.0.0-255.255.255.255',
        '::ffff:0.0.0.0-::ffff:255.255.255.255',
        '64:ff9b::-64:ff9b::ffff:ffff',
        '100::-100::ffff:ffff:ffff:ffff',
        '2001::-2001:0:ffff:ffff:ffff:ffff:ffff:ffff',
        '2001:db8::-2001:db8:ffff:ffff:ffff:ffff:ffff:ffff',
        '2002::-2002:ffff:ffff:ffff:ffff:ffff:ffff:ffff',
      ]),
    );
    expect(conf(set)).not.toMatch(/static-auth-secret/);
  });

  it('during a secret rotation accepts the previous TURN secret too, from the same Secret', () => {
    const plain = find(rendered('default'), 'Deployment', componentName('coturn')).spec.template.spec.containers[0];
    expect(plain.args.filter((a: string) => a.startsWith('--static-auth-secret'))).toEqual(['--static-auth-secret=$(TURN_SECRET)']);
    const manifests = render({ set: { 'coturn.previousSecretKey': 'TURN_SECRET_PREVIOUS' } });
    const [c] = find(manifests, 'Deployment', componentName('coturn')).spec.template.spec.containers;
    expect(c.args).toContain('--static-auth-secret=$(TURN_SECRET)');
    expect(c.args).toContain('--static-auth-secret=$(TURN_SECRET_PREVIOUS)');
    const env = envOf(c, manifests);
    expect(env.get('TURN_SECRET_PREVIOUS')?.valueFrom?.secretKeyRef).toEqual({
      ...env.get('TURN_SECRET')?.valueFrom?.secretKeyRef,
      key: 'TURN_SECRET_PREVIOUS',
    });
  });

  it.each(ALL_SETS)('%s: gets the TURN secret from the Secret the turn service reads, and the relay port range', (set) => {
    const manifests = rendered(set);
    const coturn = find(manifests, 'Deployment', componentName('coturn'));
    const turn = find(manifests, 'Deployment', componentName('turn'));
    const [c] = coturn.spec.template.spec.containers;
    const coturnSecret = envOf(c, manifests).get('TURN_SECRET')?.valueFrom?.secretKeyRef;
    const turnSecret = envOf(turn.spec.template.spec.containers[0], manifests).get('TURN_SECRET')?.valueFrom?.secretKeyRef;
    expect(coturnSecret).toBeTruthy();
    expect(coturnSecret).toEqual(turnSecret);
    expect(c.args).toContain('--static-auth-secret=$(TURN_SECRET)');
    const lines = directives(conf(set));
    const min = Number(lines.find((l) => l.startsWith('min-port='))?.split('=')[1]);
    const max = Number(lines.find((l) => l.startsWith('max-port='))?.split('=')[1]);
    expect(min).toBeGreaterThanOrEqual(1024);
    expect(max).toBeGreaterThanOrEqual(min);
    if (coturn.spec.template.spec.hostNetwork) {
      expect(coturn.spec.strategy.type).toBe('Recreate');
    } else {
      const svc = find(manifests, 'Service', componentName('coturn'));
      const relayPorts = svc.spec.ports.filter((p: { name: string }) => p.name.startsWith('relay-')).map((p: { port: number }) => p.port);
      expect(relayPorts).toEqual(Array.from({ length: max - min + 1 }, (_, i) => min + i));
      expect(svc.spec.ports.filter((p: { name: string; protocol: string }) => p.name.startsWith('relay-') && p.protocol !== 'UDP')).toEqual([]);
    }
  });

  it('production: host network, external IP mapped to the pod address, TLS, turns: URLs', () => {
    const manifests = rendered('production');
    const coturn = find(manifests, 'Deployment', componentName('coturn'));
    const spec = coturn.spec.template.spec;
    expect(spec.hostNetwork).toBe(true);
    expect(spec.dnsPolicy).toBe('ClusterFirstWithHostNet');
    expect(spec.containers[0].args).toContain('--external-ip=203.0.113.10/$(POD_IP)');
    const lines = directives(conf('production'));
    expect(lines).toEqual(expect.arrayContaining(['tls-listening-port=5349', 'no-tlsv1', 'no-tlsv1_1', 'min-port=49152', 'max-port=65535']));
    expect(lines.some((l) => l.startsWith('cert='))).toBe(true);
    const turn = find(manifests, 'Deployment', componentName('turn'));
    const turnUrls = envOf(turn.spec.template.spec.containers[0], manifests).get('TURN_URLS')?.value as string;
    expect(turnUrls.split(',')).toEqual([
      'turn:turn.example.com:3478?transport=udp',
      'turn:turn.example.com:3478?transport=tcp',
      'turns:turn.example.com:5349?transport=tcp',
    ]);
  });

  it('without host networking, the policy lets relayed media reach public addresses only', () => {
    const manifests = rendered('coturn-loadbalancer-tls');
    const policy = find(manifests, 'NetworkPolicy', componentName('coturn'));
    const blocks = policy.spec.egress
      .flatMap((r: { to?: { ipBlock?: { except?: string[] } }[] }) => r.to ?? [])
      .filter((t: { ipBlock?: unknown }) => t.ipBlock);
    for (const block of blocks)
      expect(block.ipBlock.except).toEqual(expect.arrayContaining(['10.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.168.0.0/16']));
  });
});

describe('NATS', () => {
  it('production: three JetStream servers with persistent storage, routed to each other, clients over TLS', () => {
    const manifests = rendered('production');
    const sts = find(manifests, 'StatefulSet', componentName('nats'));
    expect(sts.spec.replicas).toBe(3);
    expect(sts.spec.volumeClaimTemplates[0].spec.resources.requests.storage).toBe('20Gi');
    const conf = find(manifests, 'ConfigMap', componentName('nats')).data['nats.conf'] as string;
    expect(conf).toMatch(/jetstream \{/);
    for (const i of [0, 1, 2]) expect(conf).toContain(`nats://${RELEASE}-nats-${i}.${RELEASE}-nats-headless.`);
    const services = SERVICES.map(
      (s) => envOf(find(manifests, 'Deployment', componentName(s)).spec.template.spec.containers[0], manifests).get('NATS_URL')?.value,
    );
    // The production example turns on TLS for clients (cert-manager): the services dial tls://.
    expect(new Set(services)).toEqual(new Set([`tls://${RELEASE}-nats:4222`]));
  });

  it('dev: one server, no cluster block', () => {
    const manifests = rendered('dev');
    expect(find(manifests, 'StatefulSet', componentName('nats')).spec.replicas).toBe(1);
    expect(find(manifests, 'ConfigMap', componentName('nats')).data['nats.conf']).not.toMatch(/cluster \{/);
  });

  it('external NATS: no StatefulSet, the services get the URL', () => {
    const manifests = rendered('external-nats-created-secret');
    expect(manifests.some((m) => m.kind === 'StatefulSet' && m.metadata.name === componentName('nats'))).toBe(false);
    const env = envOf(find(manifests, 'Deployment', componentName('meeting')).spec.template.spec.containers[0], manifests);
    expect(env.get('NATS_URL')?.value).toBe('nats://nats.messaging.svc:4222');
  });
});

describe('telemetry', () => {
  it('production: OTLP endpoint on every service and a ServiceMonitor per service', () => {
    const manifests = rendered('production');
    for (const service of SERVICES) {
      const env = envOf(find(manifests, 'Deployment', componentName(service)).spec.template.spec.containers[0], manifests);
      expect(env.get('OTEL_EXPORTER_OTLP_ENDPOINT')?.value).toBe('http://otel-collector.observability.svc:4318');
      const monitor = find(manifests, 'ServiceMonitor', componentName(service));
      expect(monitor.metadata.labels?.release).toBe('kube-prometheus-stack');
      // The gateway's metrics port has its own ClusterIP Service, which the monitor's selector matches too.
      const svc = find(manifests, 'Service', service === 'gateway' ? `${componentName(service)}-metrics` : componentName(service));
      expect(matchesSelector(monitor.spec.selector, svc.metadata.labels ?? {})).toBe(true);
      expect(svc.spec.ports.map((p: { name: string }) => p.name)).toContain(monitor.spec.endpoints[0].port);
    }
  });

  it('default: no ServiceMonitor (the CRD may be missing), no OTLP endpoint', () => {
    const manifests = rendered('default');
    expect(manifests.some((m: Manifest) => m.kind === 'ServiceMonitor')).toBe(false);
    const env = envOf(find(manifests, 'Deployment', componentName('gateway')).spec.template.spec.containers[0], manifests);
    expect(env.has('OTEL_EXPORTER_OTLP_ENDPOINT')).toBe(false);
  });
});

describe('coturn denies relaying to its own node', () => {
  it.each(ALL_SETS)('%s: the external IP, when set, is a denied peer', (set) => {
    const manifests = rendered(set);
    const d = manifests.find((m) => m.kind === 'Deployment' && m.metadata.name === componentName('coturn'));
    if (!d) return;
    const args: string[] = d.spec.template.spec.containers[0].args;
    const external = args
      .find((a) => a.startsWith('--external-ip='))
      ?.slice('--external-ip='.length)
      .split('/')[0];
    const conf = manifests.filter((m) => m.kind === 'ConfigMap' && String(m.data?.['turnserver.conf'] ?? '').includes('denied-peer-ip'));
    const denied = conf.flatMap((m) =>
      String(m.data['turnserver.conf'])
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l.startsWith('denied-peer-ip=')),
    );
    if (external) expect(denied).toContain(`denied-peer-ip=${external}`);
  });
});

describe('coturn config in step with deploy/coturn/turnserver.prod.conf', () => {
  // Given as container arguments, not in the ConfigMap (a secret, the pod's own addresses).
  const ARGUMENTS = new Set(['static-auth-secret', 'relay-ip', 'external-ip', 'listening-ip']);
  const parse = (text: string) =>
    text
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'))
      .map((l) => {
        const [key = '', ...value] = l.split('=');
        return { key, value: value.join('='), line: l };
      });
  const reference = parse(readFileSync(join(repoDir, 'deploy', 'coturn', 'turnserver.prod.conf'), 'utf8'));
  const chart = parse(find(rendered('production'), 'ConfigMap', componentName('coturn')).data['turnserver.conf']);
  const chartKeys = new Set(chart.map((d) => d.key));

  it('renders every setting the reference file has', () => {
    expect(reference.length).toBeGreaterThan(10);
    const missing = reference.filter((d) => !ARGUMENTS.has(d.key) && !chartKeys.has(d.key)).map((d) => d.line);
    expect(missing).toEqual([]);
  });

  it('denies every peer range the reference denies, and keeps the fixed values', () => {
    const chartLines = new Set(chart.map((d) => d.line));
    // Values the chart takes from values.yaml (ports, realm, quotas) may differ; the rest may not.
    const fromValues = new Set([
      'listening-port',
      'tls-listening-port',
      'min-port',
      'max-port',
      'realm',
      'user-quota',
      'total-quota',
      'max-bps',
      'bps-capacity',
    ]);
    const differing = reference.filter((d) => !ARGUMENTS.has(d.key) && !fromValues.has(d.key) && !chartLines.has(d.line)).map((d) => d.line);
    expect(differing).toEqual([]);
  });
});

describe('janus and the media service', () => {
  it.each(ALL_SETS)('%s: Janus nodes on the host network, named as JANUS_NODES names them, no secret in their ConfigMap', (set) => {
    const manifests = rendered(set);
    const sts = find(manifests, 'StatefulSet', componentName('janus'));
    expect(sts.spec.template.spec.hostNetwork).toBe(true);
    const media = find(manifests, 'Deployment', componentName('media'));
    const env = envOf(media.spec.template.spec.containers[0], manifests);
    const nodes = String(env.get('JANUS_NODES')?.value ?? '').split(',');
    expect(nodes).toHaveLength(Number(sts.spec.replicas));
    nodes.forEach((n, i) => {
      const [id, url, admin] = n.split('|');
      expect(id).toBe(`janus-${i}`);
      expect(url).toMatch(/^wss?:\/\//);
      expect(admin).toBe(`ws://${componentName('janus')}-${i}.${componentName('janus')}.lessoncall.svc:7188`);
    });
    for (const key of ['JANUS_ADMIN_SECRET', 'JANUS_TOKEN_SECRET', 'JANUS_ROOM_ADMIN_KEY']) expect(env.get(key)?.valueFrom?.secretKeyRef, key).toBeTruthy();
    const cm = find(manifests, 'ConfigMap', componentName('janus'));
    const text = Object.values(cm.data as Record<string, string>).join('\n');
    expect(text).toContain('token_auth = true');
    expect(text).toContain('admin_secret = "@ADMIN_SECRET@"');
    // The media pods and the nodes share the recordings volume.
    const claim = `${componentName('janus')}-recordings`;
    const claimsOf = (spec: { volumes?: { persistentVolumeClaim?: { claimName: string } }[] }) =>
      (spec.volumes ?? []).map((v) => v.persistentVolumeClaim?.claimName).filter(Boolean);
    expect(claimsOf(sts.spec.template.spec)).toContain(claim);
    expect(claimsOf(media.spec.template.spec)).toContain(claim);
  });
});
