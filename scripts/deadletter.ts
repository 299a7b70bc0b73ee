import { jetstream } from '@lessoncall/kit';
// `npm run deadletter -- list|replay [--subject booking.>] [--id <seq or ce-id>]`: inspect the
// DEADLETTER stream, or republish dead letters to their original subject and remove them.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';
import { connectNats, createLogger, type DeadLetterEntry, inboxPrefix, listDeadLetters, replayDeadLetters } from '../services/kit/src/index.ts';
import { parseEnvFile } from '../tools/booking-system/src/index.ts';

const usage = `usage: npm run deadletter -- list|replay [--subject <original subject, wildcards allowed>] [--id <dead-letter seq or ce-id>]
NATS_URL comes from the environment or .local/stack.env; the operator's nkey seed from NATS_NKEY_SEED or stack.env's OPERATOR_NKEY_SEED.`;

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const stackEnv = resolve(root, '.local/stack.env');

function show(e: DeadLetterEntry): string {
  return [e.seq, e.failedAt?.toISOString() ?? '-', e.subject, e.eventId || '-', e.reason, `deliveries=${e.deliveries}`, e.error].join('\t');
}

async function main(argv: string[]): Promise<number> {
  const { positionals, values } = parseArgs({ args: argv, allowPositionals: true, options: { subject: { type: 'string' }, id: { type: 'string' } } });
  const command = positionals[0];
  if (command !== 'list' && command !== 'replay') {
    console.error(usage);
    return 2;
  }
  const stack = existsSync(stackEnv) ? parseEnvFile(readFileSync(stackEnv, 'utf8')) : {};
  const url = process.env.NATS_URL ?? stack.NATS_URL ?? 'nats://127.0.0.1:4222';
  // connectNats waits for a server forever (right for a service); a command gives up and says so.
  const nc = await Promise.race([
    connectNats({
      url,
      name: 'deadletter-cli',
      logger: createLogger('deadletter', { level: 'silent' }),
      // The operator role: it may read and delete dead letters and republish them, nothing else.
      nkeySeed: process.env.NATS_NKEY_SEED || stack.OPERATOR_NKEY_SEED || undefined,
      inboxPrefix: inboxPrefix('operator'),
    }),
    new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`no NATS server at ${url}`)), 5_000).unref()),
  ]);
  try {
    const js = jetstream(nc);
    const filter = { subject: values.subject, id: values.id };
    const entries = command === 'list' ? await listDeadLetters(js, filter) : await replayDeadLetters(js, filter);
    for (const e of entries) console.log(show(e));
    console.error(`${entries.length} dead letter(s) ${command === 'list' ? 'listed' : 'replayed and removed'}`);
    return 0;
  } finally {
    await nc.drain();
  }
}

process.exitCode = await main(process.argv.slice(2)).catch((err) => {
  console.error(String(err?.message ?? err));
  return 1;
});
