import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { type Harness, repoRoot, waitFor } from '@lessoncall/kit/testing';
import { loadMeetingConfig, type MeetingService, startMeetingService } from '@lessoncall/meeting';
import { createTestMeeting, type TestMeeting } from '@lessoncall/meeting/testing';
import { loadParticipantConfig, type ParticipantService, startParticipantService } from '@lessoncall/participant';
import { loadSignalingConfig, type SignalingService, startSignalingService } from '@lessoncall/signaling';
import { loadTurnConfig, startTurnService, type TurnService } from '@lessoncall/turn';

export type { TestMeeting };

export interface Backend {
  meeting: MeetingService;
  participant: ParticipantService;
  signaling: SignalingService[];
  turn: TurnService | undefined;
  /** A meeting joinable now (scheduled to start now, for an hour), created as the booking system would. */
  createMeeting(): Promise<TestMeeting>;
  stop(): Promise<void>;
}

export interface BackendOptions {
  /** Signaling replicas started in-process (default 1; 0 when a test runs them as processes). */
  signaling?: number;
  /** Starts the turn service with these coturn settings. Without it joins carry no ICE servers. */
  turn?: { secret: string; urls: string[] };
  participantEnv?: Record<string, string>;
}

/** The real services the WebSocket talks to, in-process, on the harness's NATS and Postgres. */
export async function startBackend(h: Harness, options: BackendOptions = {}): Promise<Backend> {
  if (!h.postgres) throw new Error('startBackend needs setup({ postgres: true })');
  const common = { NATS_URL: h.nats.url, LOG_LEVEL: 'silent', HEALTH_PORT: '0' };
  const db = { ...common, DATABASE_URL: h.postgres.url };
  const meeting = await startMeetingService(loadMeetingConfig(db), { telemetry: false });
  const participant = await startParticipantService(
    loadParticipantConfig({ ...db, RESUME_TOKEN_SECRET: randomBytes(32).toString('hex'), ...options.participantEnv }),
    { telemetry: false },
  );
  const turn = options.turn
    ? await startTurnService(loadTurnConfig({ ...common, TURN_SECRET: options.turn.secret, TURN_URLS: options.turn.urls.join(',') }), { telemetry: false })
    : undefined;
  const signaling: SignalingService[] = [];
  for (let i = 0; i < (options.signaling ?? 1); i++) signaling.push(await startSignalingService(loadSignalingConfig(common), { telemetry: false }));

  return {
    meeting,
    participant,
    signaling,
    turn,
    // Scheduled to start a minute ago, for an hour: joinable now.
    createMeeting: () => createTestMeeting(h.nc, { start: new Date(Date.now() - 60_000), tutorName: 'Tutor', studentName: 'Student' }),

    async stop() {
      await Promise.all(signaling.map((s) => s.stop()));
      await turn?.stop();
      await participant.stop();
      await meeting.stop();
    },
  };
}

export interface ServiceProcess {
  name: string;
  pid: number;
  /** http://127.0.0.1:<port> for a gateway. */
  url: string;
  output(): string;
  /** Resolves with the exit code or signal. */
  exited: Promise<string>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Runs a service as its own process, as in production (`tsx services/<name>/src/main.ts`
 * with env), and waits for its /readyz. `readyPort` is the port serving /readyz (the gateway's
 * PORT, a backend's HEALTH_PORT).
 */
export async function spawnService(name: string, env: Record<string, string>, readyPort: number): Promise<ServiceProcess> {
  // `node --import tsx`, not the tsx CLI: one process, so the pid is the service's own (its RSS, its SIGKILL).
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot, 'services', name, 'src/main.ts')], {
    cwd: repoRoot,
    env: { PATH: process.env.PATH ?? '', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-16_000);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<string>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? String(code))));
  const url = `http://127.0.0.1:${readyPort}`;
  let dead = false;
  void exited.then(() => {
    dead = true;
  });
  await waitFor(
    `${name} /readyz`,
    async () => {
      if (dead) throw new Error('exited');
      return (await fetch(`${url}/readyz`)).ok;
    },
    30_000,
    () => out,
  ).catch((err) => {
    child.kill('SIGKILL');
    throw err;
  });
  return {
    name,
    pid: child.pid ?? 0,
    url,
    output: () => out,
    exited,
    async stop(signal = 'SIGTERM') {
      if (dead) return;
      child.kill(signal);
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
