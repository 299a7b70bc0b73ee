import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';

/**
 * One owner per table: the service whose SQL may read and write it. Another service learns of
 * that data only through the owner's API or events (DESIGN.md, "Growing it"). A new table gets
 * its line here in the change that creates it; scripts/table-owners.test.ts holds the tree to it.
 */
export const tableOwners = {
  video_meetings: 'meeting',
  video_passcode_failures: 'meeting',
  video_booking_state: 'meeting',
  video_meeting_outbox: 'meeting',
  video_meeting_members: 'meeting',
  video_participants: 'participant',
  participant_meetings: 'participant',
  video_chat_messages: 'participant',
  participant_removals: 'participant',
  video_boards: 'participant',
  video_board_updates: 'participant',
  video_call_quality: 'participant',
  video_participant_outbox: 'participant',
  media_rooms: 'media',
  media_tokens: 'media',
} as const satisfies Record<string, string>;

export type Table = keyof typeof tableOwners;

export interface TableUse {
  file: string;
  line: number;
  table: string;
  sql: string;
}

export interface Violation extends TableUse {
  service: string;
  owner: string;
}

/** Tables the migrations create in the public schema. */
export function migrationTables(supabaseDir: string): string[] {
  const dir = join(supabaseDir, 'migrations');
  const found = new Set<string>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.sql'))) {
    const sql = readFileSync(join(dir, file), 'utf8').replace(/--.*$/gm, '');
    for (const m of sql.matchAll(/\bcreate\s+table\s+(?:if\s+not\s+exists\s+)?(?:public\.)?"?([a-z_][a-z0-9_]*)"?/gi)) found.add(m[1]!.toLowerCase());
  }
  return [...found].sort();
}

const sqlStart = /^\s*(select|insert|update|delete|with|lock|truncate|merge|alter|create|drop)\b/i;
/** Where a relation name follows in SQL. Column lists and CTE names also follow some of these; only known tables count. */
const relationAfter = /\b(?:from|join|update|into|table|truncate|lock)\s+(?:only\s+)?(?:public\.)?"?([a-z_][a-z0-9_]*)"?/gi;

/**
 * A TypeScript source split the simple way: its string literals (with the line each starts on;
 * `${…}` interpolations become a placeholder, so a statement built around a column list still
 * reads as SQL) and its code without comments, so prose about a table is not a use of it.
 */
export function lex(source: string): { strings: { line: number; text: string }[]; code: string } {
  const strings: { line: number; text: string }[] = [];
  let code = '';
  let i = 0;
  let line = 1;
  while (i < source.length) {
    const c = source[i]!;
    if (c === '/' && source[i + 1] === '/') {
      const end = source.indexOf('\n', i);
      i = end < 0 ? source.length : end;
      continue;
    }
    if (c === '/' && source[i + 1] === '*') {
      const end = source.indexOf('*/', i + 2);
      const stop = end < 0 ? source.length : end + 2;
      line += (source.slice(i, stop).match(/\n/g) ?? []).length;
      i = stop;
      continue;
    }
    if (c === "'" || c === '"' || c === '`') {
      const startLine = line;
      const start = i;
      let text = '';
      i++;
      while (i < source.length) {
        const d = source[i]!;
        if (d === '\\') {
          text += source[i + 1] ?? '';
          i += 2;
          continue;
        }
        if (c === '`' && d === '$' && source[i + 1] === '{') {
          // Skip the interpolation (nested braces included); it stands for an expression.
          let depth = 1;
          i += 2;
          while (i < source.length && depth > 0) {
            if (source[i] === '{') depth++;
            else if (source[i] === '}') depth--;
            i++;
          }
          text += ' _expr_ ';
          continue;
        }
        if (d === c || (d === '\n' && c !== '`')) break;
        text += d;
        i++;
      }
      i++;
      const literal = source.slice(start, i);
      line += (literal.match(/\n/g) ?? []).length;
      code += literal;
      strings.push({ line: startLine, text });
      continue;
    }
    if (c === '\n') line++;
    code += c;
    i++;
  }
  return { strings, code };
}

/** The string literals of a source that are SQL statements. */
export function sqlStrings(source: string): { line: number; sql: string }[] {
  return lex(source)
    .strings.filter((s) => sqlStart.test(s.text))
    .map((s) => ({ line: s.line, sql: s.text }));
}

/**
 * Every known table a source's code names outside comments, SQL or not: the backstop for SQL the
 * simple scan cannot see (a statement assembled from pieces, a table name passed around).
 */
export function tablesMentioned(source: string, known: ReadonlySet<string>): string[] {
  const words = new Set(lex(source).code.match(/[a-z_][a-z0-9_]*/gi) ?? []);
  return [...known].filter((t) => words.has(t)).sort();
}

/** Every known table a source's SQL names. */
export function tablesUsed(source: string, file: string, known: ReadonlySet<string>): TableUse[] {
  const uses: TableUse[] = [];
  for (const { line, sql } of sqlStrings(source)) {
    const unquoted = sql.replace(/--.*$/gm, '');
    for (const m of unquoted.matchAll(relationAfter)) {
      const table = m[1]!.toLowerCase();
      if (known.has(table)) uses.push({ file, line, table, sql: sql.trim().replace(/\s+/g, ' ').slice(0, 120) });
    }
  }
  return uses;
}

/** The source files of each service's src/ (unit tests beside the code excluded: they are not the service). */
export function serviceSources(repoDir: string): { service: string; file: string }[] {
  const services = join(repoDir, 'services');
  const out: { service: string; file: string }[] = [];
  const walk = (service: string, dir: string) => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(service, path);
      else if (/\.(ts|tsx|js|mjs)$/.test(entry.name) && !/\.test\.[a-z]+$/.test(entry.name)) out.push({ service, file: path });
    }
  };
  for (const entry of readdirSync(services, { withFileTypes: true })) {
    if (entry.isDirectory()) {
      try {
        walk(entry.name, join(services, entry.name, 'src'));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
  }
  return out.sort((a, b) => a.file.localeCompare(b.file));
}

/**
 * Each use of a table by a service that does not own it: in SQL (with the statement), or else
 * named anywhere in its code (line 0, no statement).
 */
export function violations(
  sources: readonly { service: string; file: string; text: string }[],
  owners: Readonly<Record<string, string>>,
  repoDir: string,
): Violation[] {
  const known = new Set(Object.keys(owners));
  return sources.flatMap(({ service, file, text }) => {
    const path = relative(repoDir, file);
    const foreign = (table: string) => owners[table] !== service;
    const inSql = tablesUsed(text, path, known).filter((u) => foreign(u.table));
    const named = tablesMentioned(text, known)
      .filter((t) => foreign(t) && !inSql.some((u) => u.table === t))
      .map((table) => ({ file: path, line: 0, table, sql: '' }));
    return [...inSql, ...named].map((u) => ({ ...u, service, owner: owners[u.table]! }));
  });
}
