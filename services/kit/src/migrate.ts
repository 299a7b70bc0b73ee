import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';

export interface MigrateOptions {
  databaseUrl: string;
  /** The repo's supabase/ folder. */
  supabaseDir: string;
  /** Create what Supabase provides (roles, auth schema) first. Never needed on Supabase itself. */
  bootstrap?: boolean;
}

/**
 * Applies supabase/migrations in order, each once and in its own transaction, recording
 * them where the Supabase CLI does (supabase_migrations.schema_migrations).
 */
export async function migrate({ databaseUrl, supabaseDir, bootstrap = true }: MigrateOptions): Promise<string[]> {
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const applied: string[] = [];
  try {
    if (bootstrap) await client.query(await readFile(join(supabaseDir, 'bootstrap', 'local.sql'), 'utf8'));
    const done = new Set((await client.query<{ version: string }>('select version from supabase_migrations.schema_migrations')).rows.map((r) => r.version));
    const files = (await readdir(join(supabaseDir, 'migrations'))).filter((f) => f.endsWith('.sql')).sort();
    for (const file of files) {
      const [version, ...rest] = file.replace(/\.sql$/, '').split('_');
      if (!version || !/^[0-9]+$/.test(version)) throw new Error(`migration file name must be <digits>_<name>.sql: ${file}`);
      if (done.has(version)) continue;
      const sql = await readFile(join(supabaseDir, 'migrations', file), 'utf8');
      await client.query('begin');
      try {
        await client.query(sql);
        await client.query('insert into supabase_migrations.schema_migrations (version, name, statements) values ($1, $2, $3)', [
          version,
          rest.join('_'),
          [sql],
        ]);
        await client.query('commit');
      } catch (err) {
        await client.query('rollback');
        throw new Error(`migration ${file} failed: ${(err as Error).message}`, { cause: err });
      }
      applied.push(file);
    }
  } finally {
    await client.end();
  }
  return applied;
}
