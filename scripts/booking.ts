// `npm run booking -- --in 5m --minutes 60`: act as the booking system (see runBookingCommand).
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runBookingCommand } from '@lessoncall/booking-system';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
process.exitCode = await runBookingCommand(process.argv.slice(2), process.env, resolve(root, '.local/stack.env'));
