import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Db } from '../src/db';
import { type PostgresServer, startPostgres } from '../src/testing/index';

// Least privilege with fewer round trips: a service's connections are service_role from the
// start, so one statement needs no transaction around it, and asUser still narrows to the user.
describe('Db with a session role', () => {
  let pg: PostgresServer;
  let db: Db;
  beforeAll(async () => {
    pg = await startPostgres();
    db = new Db({ url: pg.url, max: 2, sessionRole: 'service_role' });
  });
  afterAll(async () => {
    await db?.close();
    await pg?.stop();
  });

  const who = 'select current_user as role';
  const user = '33333333-3333-4333-8333-333333333333';

  it('autocommit statements run as service_role, never as the login role', async () => {
    expect((await db.autocommit.query(who)).rows).toEqual([{ role: 'service_role' }]);
    expect((await db.asService((tx) => tx.query(who))).rows).toEqual([{ role: 'service_role' }]);
  });

  it('a user transaction narrows to authenticated, and the connection is service_role again after it', async () => {
    const inside = await db.asUser(user, (tx) => tx.query<{ role: string; sub: string }>(`${who}, auth.uid()::text as sub`));
    expect(inside.rows).toEqual([{ role: 'authenticated', sub: user }]);
    // Both connections of the pool, whichever served the user.
    const after = await Promise.all([db.autocommit.query(who), db.autocommit.query(who)]);
    expect(after.map((r) => r.rows[0])).toEqual([{ role: 'service_role' }, { role: 'service_role' }]);
  });

  it('without a session role, autocommit still runs as service_role (a transaction per statement)', async () => {
    const plain = new Db({ url: pg.url, max: 1 });
    try {
      expect((await plain.autocommit.query(who)).rows).toEqual([{ role: 'service_role' }]);
    } finally {
      await plain.close();
    }
  });
});
