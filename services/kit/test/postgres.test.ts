import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, giveToPostgresUser, startPostgres } from '../src/testing/index';

async function query(url: string, sql: string): Promise<unknown[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query(sql)).rows;
  } finally {
    await c.end();
  }
}

// The one way Postgres is started here: tests (a temp cluster) and the local stack (a kept one).
describe('startPostgres', () => {
  let parent: string;
  beforeAll(async () => {
    parent = await mkdtemp(join(tmpdir(), 'lessoncall-pgtest-'));
    // initdb runs as the postgres user when we are root: it must be able to reach the parent.
    giveToPostgresUser(parent);
  });
  afterAll(() => rm(parent, { recursive: true, force: true }));

  it('a throwaway cluster has every migration applied and is gone after stop()', async () => {
    const migrations = (await readdir(join(import.meta.dirname, '../../../supabase/migrations'))).filter((f) => f.endsWith('.sql'));
    const p = await startPostgres();
    expect(p.applied).toHaveLength(migrations.length);
    expect(await query(p.url, 'select count(*)::int as n from supabase_migrations.schema_migrations')).toEqual([{ n: migrations.length }]);
    expect(await query(p.url, "select to_regclass('public.video_meetings') is not null as exists")).toEqual([{ exists: true }]);
    await p.stop();
    expect(existsSync(p.dir)).toBe(false);
  });

  it('a kept directory keeps its data across stop and start, and fresh: true starts empty', async () => {
    const dir = join(parent, 'kept');
    const first = await startPostgres({ dir });
    await query(first.url, 'create table kept (v text); insert into kept values ($$still here$$)');
    await first.stop();
    expect(existsSync(join(dir, 'data', 'PG_VERSION'))).toBe(true);

    const second = await startPostgres({ dir });
    expect(second.applied).toEqual([]);
    expect(await query(second.url, 'select v from kept')).toEqual([{ v: 'still here' }]);
    await second.stop();

    const fresh = await startPostgres({ dir, fresh: true, migrate: false });
    expect(await query(fresh.url, "select to_regclass('public.kept') is null as gone")).toEqual([{ gone: true }]);
    await fresh.stop();
  });

  it('takes another port when the preferred one is busy, and the preferred one when it is free', async () => {
    const busy = await freePort();
    const blocker: Server = createServer();
    await new Promise<void>((resolve) => blocker.listen(busy, '127.0.0.1', resolve));
    try {
      const p = await startPostgres({ port: busy, migrate: false });
      expect(p.port).not.toBe(busy);
      await p.stop();
    } finally {
      await new Promise((resolve) => blocker.close(resolve));
    }
    const wanted = await freePort();
    const p = await startPostgres({ port: wanted, migrate: false });
    expect(p.port).toBe(wanted);
    expect(await query(p.url, 'select 1 as one')).toEqual([{ one: 1 }]);
    await p.stop();
  });

  it('restart() keeps the data and serves on the same URL', async () => {
    const p = await startPostgres({ migrate: false });
    try {
      await query(p.url, 'create table r (v int); insert into r values (7)');
      await p.restart();
      expect(await query(p.url, 'select v from r')).toEqual([{ v: 7 }]);
    } finally {
      await p.stop();
    }
  });
});
