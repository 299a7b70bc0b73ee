/**
 * Applies the Supabase bootstrap and migrations to a database, as the local stack and the
 * test harness do: `tsx scripts/migrate.ts <postgres URL>`. Prints `applied=N`.
 */
import { join } from 'node:path';
import { migrate } from '@lessoncall/kit';

const url = process.argv[2] ?? process.env.DATABASE_URL;
if (!url) {
  console.error('usage: tsx scripts/migrate.ts <postgres URL> (or DATABASE_URL)');
  process.exit(2);
}
try {
  const applied = await migrate({ databaseUrl: url, supabaseDir: join(import.meta.dirname, '..', 'supabase') });
  for (const file of applied) console.error(`applied supabase/migrations/${file}`);
  console.log(`applied=${applied.length}`);
} catch (err) {
  console.error((err as Error).message);
  process.exit(1);
}
