import { join } from 'node:path';
import { freePort, type Harness, repoRoot, setup, spawnServer, stopProcess, waitFor } from '@lessoncall/kit/testing';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runBookingCommand } from '../src/index';

/** Runs the command as `npm run booking -- …` does, with what it printed. */
async function booking(argv: string[], env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((line: string) => void out.push(line));
  const error = vi.spyOn(console, 'error').mockImplementation((line: string) => void err.push(line));
  try {
    const code = await runBookingCommand(argv, env, join(repoRoot, '.local/does-not-exist.env'));
    return { code, out: out.join('\n'), err: err.join('\n') };
  } finally {
    log.mockRestore();
    error.mockRestore();
  }
}

describe('npm run booking against the real meeting service', () => {
  let h: Harness;
  let meeting: ReturnType<typeof spawnServer> | undefined;
  beforeAll(async () => {
    h = await setup({ postgres: true });
  });
  afterAll(async () => {
    if (meeting) await stopProcess(meeting);
    await h?.cleanup();
  });

  it('says the meeting service is not running when nothing stores booking.confirmed', async () => {
    const r = await booking(['--timeout', '1s'], h.natsEnv('booking'));
    expect(r.code).toBe(1);
    expect(r.err).toBe('no JetStream stream stores booking.confirmed: is the meeting service running (npm start)?');
  });

  it('publishes booking.confirmed and prints the meeting, its passcode and both join links', async () => {
    // The service as its own process, as in production: nothing of it is imported here.
    const healthPort = await freePort();
    meeting = spawnServer(process.execPath, ['--import', 'tsx', join(repoRoot, 'services/meeting/src/main.ts')], {
      cwd: join(repoRoot, 'services/meeting'),
      env: { PATH: process.env.PATH, ...h.natsEnv('meeting'), DATABASE_URL: h.postgres?.url, HEALTH_PORT: String(healthPort), LOG_LEVEL: 'warn' },
    });
    await waitFor('meeting /readyz', async () => (await fetch(`http://127.0.0.1:${healthPort}/readyz`)).ok, 30_000, meeting.output);

    const r = await booking(['--in', '5m', '--minutes', '45', '--booking', 'cmd-1', '--json'], { ...h.natsEnv('booking'), WEB_URL: 'http://localhost:5173' });
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.out);
    expect(printed).toMatchObject({ bookingId: 'cmd-1', meetingId: expect.stringMatching(/^MID-[A-Z0-9]{16}$/), passcode: expect.stringMatching(/^\d{6}$/) });
    expect(new URL(printed.tutorUrl).searchParams.get('as')).toBe('tutor');
    expect(new URL(printed.studentUrl).origin).toBe('http://localhost:5173');
    expect(Date.parse(printed.scheduledEnd) - Date.parse(printed.scheduledStart)).toBe(45 * 60_000);
    // The row the booking platform's event produced.
    const row = await h.db?.pool.query('select booking_id, passcode, status from video_meetings where meeting_id = $1', [printed.meetingId]);
    expect(row?.rows).toEqual([{ booking_id: 'cmd-1', passcode: printed.passcode, status: 'pending' }]);
  });

  it('gives up after --timeout when the stream is there but the meeting service is gone', async () => {
    if (meeting) await stopProcess(meeting);
    const r = await booking(['--timeout', '1s', '--booking', 'cmd-orphan'], h.natsEnv('booking'));
    expect(r.code).toBe(1);
    expect(r.err).toBe('no meeting_link.created for booking cmd-orphan within 1000 ms: is the meeting service running?');
  });

  it('refuses bad input with the usage and exit code 2, before touching NATS', async () => {
    const r = await booking(['--tutor', 'not-a-uuid'], { NATS_URL: 'nats://127.0.0.1:1' });
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/^--tutor must be a Supabase user id \(uuid\)\n\nusage: npm run booking/);
  });
});
