import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LocalDiskStorage, S3Storage } from './storage';

/** The bucket, keys and clock of AWS's published SigV4 examples. */
const awsExample = () =>
  new S3Storage(
    {
      endpoint: 'https://s3.amazonaws.com',
      region: 'us-east-1',
      bucket: 'examplebucket',
      accessKeyId: 'AKIAIOSFODNN7EXAMPLE',
      secretAccessKey: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
      style: 'virtual',
    },
    () => new Date('2013-05-24T00:00:00Z'),
  );

describe('recording storage', () => {
  it('presigns an S3 GET exactly as AWS documents it (SigV4 query-string example)', async () => {
    // docs.aws.amazon.com/AmazonS3/latest/API/sigv4-query-string-auth.html: GET /test.txt, 24 h.
    const s3 = awsExample();
    const url = new URL(await s3.signedUrl('test.txt', new Date('2013-05-25T00:00:00Z')));
    expect(url.host).toBe('examplebucket.s3.amazonaws.com');
    expect(url.searchParams.get('X-Amz-Expires')).toBe('86400');
    expect(url.searchParams.get('X-Amz-Signature')).toBe('aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404');
  });

  it('signs request headers exactly as AWS documents it (SigV4 header example, used for PUT and DELETE)', () => {
    // The same page's sibling, sig-v4-header-based-auth: GET /test.txt with a Range header.
    const s3 = awsExample();
    const h = s3.signHeaders(
      'GET',
      new URL('https://examplebucket.s3.amazonaws.com/test.txt'),
      'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855',
      {
        range: 'bytes=0-9',
      },
    );
    expect(h.authorization).toBe(
      'AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41',
    );
  });

  it('keeps files under its root, and its signed URLs expire and cannot be altered', async () => {
    const root = await mkdtemp(join(tmpdir(), 'lessoncall-storage-'));
    try {
      const disk = new LocalDiskStorage({ root, publicBaseUrl: 'http://localhost:8080/api/video/recordings', secret: 'a-local-signing-secret' });
      const src = join(root, 'src.webm');
      await writeFile(src, 'webm bytes');
      expect(await disk.put('recordings/MID-AAAAAAAAAAAAAAAA.webm', src)).toEqual({ bytes: 10 });
      expect(await readFile(disk.pathOf('recordings/MID-AAAAAAAAAAAAAAAA.webm'), 'utf8')).toBe('webm bytes');
      expect(() => disk.pathOf('../etc/passwd')).toThrow();
      const now = new Date('2026-12-03T12:00:00Z');
      const url = new URL(await disk.signedUrl('recordings/MID-AAAAAAAAAAAAAAAA.webm', new Date(now.getTime() + 60_000)));
      const expires = Number(url.searchParams.get('expires'));
      const signature = url.searchParams.get('signature') ?? '';
      expect(disk.verify('recordings/MID-AAAAAAAAAAAAAAAA.webm', expires, signature, now)).toBe(true);
      expect(disk.verify('recordings/MID-BBBBBBBBBBBBBBBB.webm', expires, signature, now)).toBe(false);
      expect(disk.verify('recordings/MID-AAAAAAAAAAAAAAAA.webm', expires + 60, signature, now)).toBe(false);
      expect(disk.verify('recordings/MID-AAAAAAAAAAAAAAAA.webm', expires, signature, new Date(now.getTime() + 120_000))).toBe(false);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
