import { existsSync, readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { generateMeetingUrl } from '@lessoncall/proto';
import { inboxPrefix, jetstream } from '@lessoncall/kit';
import { connect } from '@nats-io/transport-node';
import { nkeyAuthenticator } from '@nats-io/nats-core';
import { bookAndWait, parseDuration, parseEnvFile } from './client';

// What the booking platform's users are: Supabase user ids.
const isUuid = (value: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);

/** The demo users of the local stack (see supabase/seed.sql). */
export const demoTutorId = '11111111-1111-4111-8111-111111111111';
export const demoStudentId = '22222222-2222-4222-8222-222222222222';

const usage = `usage: npm run booking -- [--in 5m] [--minutes 60] [--tutor <uuid>] [--student <uuid>]
                          [--title "Lesson"] [--booking <id>] [--timeout 15s] [--json]

Publishes booking.confirmed on NATS as the booking system would, waits for the meeting
service's meeting.created and prints the meeting link and the tutor's and student's URLs.
NATS_URL and WEB_URL come from the environment or .local/stack.env; the booking role's nkey seed from NATS_NKEY_SEED or stack.env's BOOKING_NKEY_SEED.`;

/**
 * `npm run booking`: act as the booking system. Returns the process exit code.
 * `stackEnvPath` is the local stack's KEY=VALUE file; the environment wins over it.
 */
export async function runBookingCommand(argv: string[], env: Record<string, string | undefined>, stackEnvPath: string): Promise<number> {
  let args: ReturnType<typeof parse>;
  try {
    args = parse(argv);
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${usage}`);
    return 2;
  }
  if (args.help) {
    console.log(usage);
    return 0;
  }
  const stack = existsSync(stackEnvPath) ? parseEnvFile(readFileSync(stackEnvPath, 'utf8')) : {};
  const setting = (key: string) => env[key] || stack[key] || undefined;
  const natsUrl = setting('NATS_URL') ?? 'nats://127.0.0.1:4222';
  const webUrl = setting('WEB_URL') ?? setting('PUBLIC_BASE_URL');

  let start: Date;
  let minutes: number;
  let timeoutMs: number;
  try {
    start = new Date(Date.now() + parseDuration(args.in));
    minutes = Number(args.minutes);
    if (!Number.isFinite(minutes) || minutes <= 0) throw new Error(`--minutes must be a positive number, not ${args.minutes}`);
    timeoutMs = parseDuration(args.timeout);
    for (const who of ['tutor', 'student'] as const) if (!isUuid(args[who])) throw new Error(`--${who} must be a Supabase user id (uuid)`);
    if (args.tutor.toLowerCase() === args.student.toLowerCase()) throw new Error('--tutor and --student must be different people');
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${usage}`);
    return 2;
  }
  const booking = {
    bookingId: args.booking ?? `demo-${crypto.randomUUID()}`,
    tutorId: args.tutor,
    studentId: args.student,
    scheduledStart: start,
    scheduledEnd: new Date(start.getTime() + minutes * 60_000),
    title: args.title,
    tutorName: args['tutor-name'],
    studentName: args['student-name'],
  };

  let nc: Awaited<ReturnType<typeof connect>>;
  try {
    // Connects as the booking system does: its own nkey, replies under its own inbox prefix.
    const seed = env.NATS_NKEY_SEED || stack.BOOKING_NKEY_SEED || undefined;
    nc = await connect({
      servers: natsUrl.split(','),
      name: 'booking-command',
      timeout: 5_000,
      inboxPrefix: inboxPrefix('booking'),
      ...(seed ? { authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)) } : {}),
    });
  } catch (err) {
    console.error(`cannot reach NATS at ${natsUrl} (${(err as Error).message}): is the local stack running (npm start)?`);
    return 1;
  }
  try {
    const created = await bookAndWait(nc, jetstream(nc), booking, timeoutMs);
    const meetingId = created.meetingId;
    const link = created.url;
    const asUser = (who: 'tutor' | 'student') => {
      const url = new URL(webUrl ? generateMeetingUrl(webUrl, meetingId, created.passcode) : link);
      url.searchParams.set('as', who);
      return url.toString();
    };
    const out = {
      bookingId: booking.bookingId,
      meetingId,
      passcode: created.passcode,
      url: link,
      tutorUrl: asUser('tutor'),
      studentUrl: asUser('student'),
      tutorId: booking.tutorId,
      studentId: booking.studentId,
      scheduledStart: booking.scheduledStart.toISOString(),
      scheduledEnd: booking.scheduledEnd.toISOString(),
    };
    if (args.json) {
      console.log(JSON.stringify(out));
    } else {
      console.log(
        [
          `booking ${out.bookingId} → meeting ${meetingId} (${out.scheduledStart} – ${out.scheduledEnd})`,
          `  link:     ${out.url}`,
          `  passcode: ${out.passcode}`,
          `  tutor:    ${out.tutorUrl}   (${out.tutorId})`,
          `  student:  ${out.studentUrl}   (${out.studentId})`,
        ].join('\n'),
      );
    }
    return 0;
  } catch (err) {
    console.error((err as Error).message);
    return 1;
  } finally {
    await nc.close();
  }
}

function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: {
      in: { type: 'string', default: '0' },
      minutes: { type: 'string', default: '60' },
      tutor: { type: 'string', default: demoTutorId },
      student: { type: 'string', default: demoStudentId },
      title: { type: 'string', default: 'Demo lesson' },
      'tutor-name': { type: 'string', default: 'Demo Tutor' },
      'student-name': { type: 'string', default: 'Demo Student' },
      booking: { type: 'string' },
      timeout: { type: 'string', default: '15s' },
      json: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    },
  });
  return values;
}
