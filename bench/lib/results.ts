import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '@lessoncall/kit/testing';

/** Writes a benchmark's result to bench/results/<file> (pretty JSON) and returns the path. */
export async function writeResult(file: string, result: unknown): Promise<string> {
  const dir = join(repoRoot, 'bench', 'results');
  await mkdir(dir, { recursive: true });
  const path = join(dir, file);
  await writeFile(path, `${JSON.stringify(result, null, 2)}\n`);
  return path;
}
