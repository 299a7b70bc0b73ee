import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { migrationTables, serviceSources, sqlStrings, tableOwners, violations } from './table-owners';

const repoDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const owners: Record<string, string> = tableOwners;

describe('one owner per table', () => {
  it('every table the migrations create has exactly one owner, and every owner names a real table', () => {
    const created = migrationTables(join(repoDir, 'supabase'));
    expect(created.length).toBeGreaterThan(0);
    expect(created.filter((t) => !(t in owners))).toEqual([]);
    expect(Object.keys(owners).filter((t) => !created.includes(t))).toEqual([]);
  });

  it("no service's SQL (or code) touches another service's tables", () => {
    const sources = serviceSources(repoDir).map((s) => ({ ...s, text: readFileSync(s.file, 'utf8') }));
    // The scan sees the services' real statements, or it proves nothing.
    const statements = sources.flatMap((s) => sqlStrings(s.text));
    expect(statements.length).toBeGreaterThan(30);
    const found = violations(sources, owners, repoDir).map((v) => `${v.file}:${v.line} ${v.service} uses ${v.table} (owner: ${v.owner}) ${v.sql}`);
    expect(found).toEqual([]);
  });

  it('would catch a participant query of video_meetings, however it is written', () => {
    const file = join(repoDir, 'services/participant/src/new.ts');
    const check = (text: string) => violations([{ service: 'participant', file, text }], owners, repoDir).map((v) => [v.table, v.line]);
    expect(check("const r = await tx.query('select status from video_meetings where meeting_id = $1', [id]);")).toEqual([['video_meetings', 1]]);
    expect(
      check(
        [
          'const cols = `a, b`;',
          'await tx.query(',
          // biome-ignore lint/suspicious/noTemplateCurlyInString: the source text of a template literal, on purpose
          '  `select ${cols}',
          '   from participant_meetings p join public.video_meetings m using (meeting_id)`,',
          ');',
        ].join('\n'),
      ),
    ).toEqual([['video_meetings', 3]]);
    expect(check("await tx.query(`update video_booking_state set cancel_reason = ''`);")).toEqual([['video_booking_state', 1]]);
    // Not SQL, but the table named in code: still caught, without a line.
    expect(check("const table = 'video_meeting_outbox';")).toEqual([['video_meeting_outbox', 0]]);
    // Own tables, and prose in comments, are fine.
    expect(check("// the owner keeps video_meetings\nawait tx.query('select 1 from participant_meetings');")).toEqual([]);
  });

  it('the meeting service may not read the participant tables either', () => {
    const file = join(repoDir, 'services/meeting/src/new.ts');
    const found = violations(
      [{ service: 'meeting', file, text: 'await tx.query(`select count(*) from video_participants p where p.meeting_id = $1`);' }],
      owners,
      repoDir,
    );
    expect(found.map((v) => [v.service, v.table, v.owner])).toEqual([['meeting', 'video_participants', 'participant']]);
  });
});
