import { createHash, createHmac } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, rm, stat } from 'node:fs/promises';
import { dirname, join, resolve, sep } from 'node:path';
import { linkSignature, verifyLinkSignature } from '@lessoncall/kit';

/** Where recordings are kept: local disk (the local stack) or an S3-compatible bucket (Supabase Storage in production). */
export interface RecordingStorage {
  readonly kind: 'local' | 's3';
  /** Stores a finished file under `key`; returns its size. */
  put(key: string, file: string, contentType: string): Promise<{ bytes: number }>;
  /** A URL that fetches the object until `expiresAt` and not after. */
  signedUrl(key: string, expiresAt: Date): Promise<string>;
  remove(key: string): Promise<void>;
}

/** Keys are ours (`recordings/<meetingId>.webm`): nothing else is accepted, so no key escapes the root. */
function checkKey(key: string): string {
  if (!/^[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/.test(key) || key.includes('..')) throw new Error(`not a storage key: ${JSON.stringify(key)}`);
  return key;
}

/**
 * Files under a directory. A signed URL points at `publicBaseUrl/<key>?expires=&signature=`
 * (HMAC-SHA256 of key and expiry), which whoever serves the directory checks with `verify`.
 */
export class LocalDiskStorage implements RecordingStorage {
  readonly kind = 'local' as const;
  readonly root: string;
  readonly #publicBaseUrl: string;
  readonly #secret: string;

  constructor(options: { root: string; publicBaseUrl: string; secret: string }) {
    this.root = resolve(options.root);
    this.#publicBaseUrl = options.publicBaseUrl.replace(/\/$/, '');
    this.#secret = options.secret;
  }

  pathOf(key: string): string {
    const p = resolve(join(this.root, checkKey(key)));
    if (!p.startsWith(this.root + sep)) throw new Error('key outside the storage root');
    return p;
  }

  async put(key: string, file: string): Promise<{ bytes: number }> {
    const target = this.pathOf(key);
    await mkdir(dirname(target), { recursive: true });
    await copyFile(file, target);
    return { bytes: (await stat(target)).size };
  }

  async signedUrl(key: string, expiresAt: Date): Promise<string> {
    const expires = Math.floor(expiresAt.getTime() / 1000);
    return `${this.#publicBaseUrl}/${checkKey(key)}?expires=${expires}&signature=${linkSignature(this.#secret, key, expires)}`;
  }

  /** Whether a signed URL's parts are genuine and not expired (what the gateway checks before serving the file). */
  verify(key: string, expires: number, signature: string, now: Date): boolean {
    return verifyLinkSignature(this.#secret, key, expires, signature, now);
  }

  open(key: string) {
    return createReadStream(this.pathOf(key));
  }

  async remove(key: string): Promise<void> {
    await rm(this.pathOf(key), { force: true });
  }
}

export interface S3Options {
  /** e.g. https://<project>.supabase.co/storage/v1/s3 or https://s3.eu-west-1.amazonaws.com */
  endpoint: string;
  region: string;
  bucket: string;
  accessKeyId: string;
  secretAccessKey: string;
  /** `path` (default: endpoint/bucket/key, Supabase and MinIO) or `virtual` (bucket.endpoint/key, AWS). */
  style?: 'path' | 'virtual';
}

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) => createHmac('sha256', key).update(data).digest();
const encodePath = (p: string) => p.split('/').map(encodeURIComponent).join('/');

/**
 * An S3-compatible bucket, path-style (what Supabase Storage's S3 endpoint and MinIO take), signed
 * with AWS Signature Version 4 by hand: one PUT, one DELETE and presigned GETs need no SDK.
 */
export class S3Storage implements RecordingStorage {
  readonly kind = 's3' as const;
  readonly #o: S3Options;
  readonly #now: () => Date;

  constructor(options: S3Options, now: () => Date = () => new Date()) {
    this.#o = { ...options, endpoint: options.endpoint.replace(/\/$/, '') };
    this.#now = now;
  }

  #url(key: string): URL {
    if (this.#o.style === 'virtual') {
      const u = new URL(this.#o.endpoint);
      u.host = `${this.#o.bucket}.${u.host}`;
      u.pathname = `/${encodePath(checkKey(key))}`;
      return u;
    }
    return new URL(`${this.#o.endpoint}/${encodeURIComponent(this.#o.bucket)}/${encodePath(checkKey(key))}`);
  }

  #scope(now: Date) {
    const amzDate = now
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d{3}/, '');
    const day = amzDate.slice(0, 8);
    const scope = `${day}/${this.#o.region}/s3/aws4_request`;
    const key = hmac(hmac(hmac(hmac(`AWS4${this.#o.secretAccessKey}`, day), this.#o.region), 's3'), 'aws4_request');
    return { amzDate, scope, key };
  }

  /** SigV4 headers for a request whose body hash is `payloadHash` (header names lower case). */
  signHeaders(method: string, url: URL, payloadHash: string, extra: Record<string, string> = {}): Record<string, string> {
    const { amzDate, scope, key } = this.#scope(this.#now());
    const headers: Record<string, string> = { host: url.host, 'x-amz-content-sha256': payloadHash, 'x-amz-date': amzDate, ...extra };
    const names = Object.keys(headers).sort();
    const canonicalHeaders = names.map((n) => `${n}:${String(headers[n]).trim()}\n`).join('');
    const signedHeaders = names.join(';');
    const canonical = [method, url.pathname, canonicalQuery(url), canonicalHeaders, signedHeaders, payloadHash].join('\n');
    const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
    const signature = createHmac('sha256', key).update(toSign).digest('hex');
    const { host: _host, ...rest } = headers;
    return { ...rest, authorization: `AWS4-HMAC-SHA256 Credential=${this.#o.accessKeyId}/${scope}, SignedHeaders=${signedHeaders}, Signature=${signature}` };
  }

  async put(key: string, file: string, contentType: string): Promise<{ bytes: number }> {
    const { readFile } = await import('node:fs/promises');
    const body = await readFile(file);
    const url = this.#url(key);
    const res = await fetch(url, { method: 'PUT', body, headers: this.signHeaders('PUT', url, sha256(body), { 'content-type': contentType }) });
    if (!res.ok) throw new Error(`S3 PUT ${key}: ${res.status} ${await res.text()}`);
    return { bytes: body.length };
  }

  async signedUrl(key: string, expiresAt: Date): Promise<string> {
    const now = this.#now();
    const seconds = Math.max(1, Math.min(604_800, Math.floor((expiresAt.getTime() - now.getTime()) / 1000)));
    const { amzDate, scope, key: signingKey } = this.#scope(now);
    const url = this.#url(key);
    url.searchParams.set('X-Amz-Algorithm', 'AWS4-HMAC-SHA256');
    url.searchParams.set('X-Amz-Credential', `${this.#o.accessKeyId}/${scope}`);
    url.searchParams.set('X-Amz-Date', amzDate);
    url.searchParams.set('X-Amz-Expires', String(seconds));
    url.searchParams.set('X-Amz-SignedHeaders', 'host');
    const canonical = ['GET', url.pathname, canonicalQuery(url), `host:${url.host}\n`, 'host', 'UNSIGNED-PAYLOAD'].join('\n');
    const toSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonical)].join('\n');
    url.searchParams.set('X-Amz-Signature', createHmac('sha256', signingKey).update(toSign).digest('hex'));
    return url.toString();
  }

  async remove(key: string): Promise<void> {
    const url = this.#url(key);
    const res = await fetch(url, { method: 'DELETE', headers: this.signHeaders('DELETE', url, sha256('')) });
    if (!res.ok && res.status !== 404) throw new Error(`S3 DELETE ${key}: ${res.status}`);
  }
}

/** RFC 3986 encoding of every query parameter, sorted by name, as SigV4 wants it. */
function canonicalQuery(url: URL): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return [...url.searchParams.entries()]
    .map(([k, v]) => [enc(k), enc(v)] as const)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
}
