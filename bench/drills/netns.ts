/**
 * A network namespace of the drill's own, joined to this host by a veth pair: the host end
 * gets 10.213.<n>.1, the namespace end 10.213.<n>.2 (a /30). A peer process runs inside it and
 * reaches coturn and the gateways only through relays listening on the host end, so iptables
 * rules inside the namespace (loss, blackout, UDP blocked) touch that peer's traffic and nothing
 * else on the machine. Removing the namespace removes its rules and both veth ends.
 */
import { execFileSync } from 'node:child_process';

export interface Namespace {
  name: string;
  hostIp: string;
  nsIp: string;
  /** The namespace's end of the veth pair (what its rules match on). */
  device: string;
  /** Runs iptables inside the namespace. */
  iptables(args: string[]): void;
  /** Drops every rule the drill added. */
  clear(): void;
  remove(): void;
}

const live = new Set<Namespace>();
// A drill that crashes or is interrupted still removes what it created.
process.on('exit', () => {
  for (const ns of live) ns.remove();
});
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.once(sig, () => {
    for (const ns of live) ns.remove();
    process.exit(130);
  });
}

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] }).toString();

/** Whether this machine lets the drill make namespaces and iptables rules (root, iproute2, iptables). */
export function netnsAvailable(): { ok: true } | { ok: false; why: string } {
  if (process.getuid?.() !== 0) return { ok: false, why: 'not root' };
  for (const bin of ['ip', 'iptables']) {
    try {
      run('sh', ['-c', `command -v ${bin}`]);
    } catch {
      return { ok: false, why: `${bin} not installed` };
    }
  }
  return { ok: true };
}

export function createNamespace(): Namespace {
  const existing = run('ip', ['-o', 'link', 'show']);
  let n = 0;
  for (let i = 0; i < 50; i++) {
    const candidate = 1 + ((process.pid + i * 37) % 250);
    if (!existing.includes(`lcdh${candidate}@`) && !existing.includes(`lcdh${candidate}:`)) {
      n = candidate;
      break;
    }
  }
  if (n === 0) throw new Error('no free drill namespace number');
  const name = `lcdrill${n}`;
  const host = `lcdh${n}`;
  const device = `lcdn${n}`;
  const hostIp = `10.213.${n}.1`;
  const nsIp = `10.213.${n}.2`;
  const ns: Namespace = {
    name,
    hostIp,
    nsIp,
    device,
    iptables: (args) => void run('ip', ['netns', 'exec', name, 'iptables', ...args]),
    clear() {
      try {
        run('ip', ['netns', 'exec', name, 'iptables', '-F']);
      } catch {
        // already gone
      }
    },
    remove() {
      live.delete(ns);
      for (const args of [
        ['link', 'del', host],
        ['netns', 'del', name],
      ]) {
        try {
          execFileSync('ip', args, { stdio: 'ignore' });
        } catch {
          // already gone
        }
      }
    },
  };
  live.add(ns);
  try {
    run('ip', ['netns', 'add', name]);
    run('ip', ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up']);
    run('ip', ['link', 'add', host, 'type', 'veth', 'peer', 'name', device]);
    run('ip', ['link', 'set', device, 'netns', name]);
    run('ip', ['addr', 'add', `${hostIp}/30`, 'dev', host]);
    run('ip', ['link', 'set', host, 'up']);
    run('ip', ['netns', 'exec', name, 'ip', 'addr', 'add', `${nsIp}/30`, 'dev', device]);
    run('ip', ['netns', 'exec', name, 'ip', 'link', 'set', device, 'up']);
  } catch (err) {
    ns.remove();
    throw err;
  }
  return ns;
}
