import { Db } from '@lessoncall/kit';

/**
 * What the servers did during a measured window, beside CPU: messages through nats-server
 * (its `/varz` counters) and Postgres commits and rows written (pg_stat_database). A capacity
 * model reads them per request: NATS messages per join, Postgres transactions per join.
 */
export interface Activity {
  natsMessagesIn: number;
  natsMessagesOut: number;
  postgresCommits: number;
  postgresRowsWritten: number;
}

async function natsCounters(monitorUrl: string): Promise<{ in: number; out: number }> {
  const res = await fetch(`${monitorUrl}/varz`);
  if (!res.ok) throw new Error(`nats-server ${monitorUrl}/varz answered ${res.status}`);
  const varz = (await res.json()) as { in_msgs: number; out_msgs: number };
  return { in: varz.in_msgs, out: varz.out_msgs };
}

async function postgresCounters(db: Db): Promise<{ commits: number; rows: number }> {
  // The statistics collector flushes at most every 500 ms (PGSTAT_MIN_INTERVAL); a snapshot
  // read in its own transaction sees what was flushed.
  const { rows } = await db.pool.query<{ commits: string; rows: string }>(
    `select xact_commit as commits, tup_inserted + tup_updated + tup_deleted as rows
       from pg_stat_database where datname = current_database()`,
  );
  return { commits: Number(rows[0]?.commits ?? 0), rows: Number(rows[0]?.rows ?? 0) };
}

/** Starts counting; the returned function gives the difference since (less the meter's own first read, a transaction of its own). */
export async function activityMeter(natsMonitorUrl: string, postgresUrl: string): Promise<() => Promise<Activity>> {
  const db = new Db({ url: postgresUrl, max: 1, applicationName: 'bench-activity' });
  const [n0, p0] = await Promise.all([natsCounters(natsMonitorUrl), postgresCounters(db)]);
  return async () => {
    // Let Postgres backends report what the window did before reading.
    await new Promise((r) => setTimeout(r, 1_100));
    try {
      const [n1, p1] = await Promise.all([natsCounters(natsMonitorUrl), postgresCounters(db)]);
      return {
        natsMessagesIn: n1.in - n0.in,
        natsMessagesOut: n1.out - n0.out,
        postgresCommits: p1.commits - p0.commits - 1,
        postgresRowsWritten: p1.rows - p0.rows,
      };
    } finally {
      await db.pool.end();
    }
  };
}
