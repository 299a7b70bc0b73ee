import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { findTracks, mixArgs } from './recordings';

describe('recording mix', () => {
  it("groups Janus's files by participant across generations, earliest first, ignoring data channels", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lessoncall-mjr-'));
    try {
      await mkdir(join(dir, 'g1'));
      await mkdir(join(dir, 'g2'));
      const room = 'videoroom-MID-AAAAAAAAAAAAAAAA-user';
      for (const f of [
        `g1/${room}-bob-2000-video-0.mjr`,
        `g1/${room}-bob-2001-audio-1.mjr`,
        `g1/${room}-amy-1000-audio-1.mjr`,
        `g2/${room}-bob-9000-video-0.mjr`,
        `g1/${room}-amy-1000-data-2.mjr`,
        'g1/other.txt',
      ])
        await writeFile(join(dir, f), '');
      const tracks = await findTracks(dir);
      expect(tracks.map((t) => [t.id, t.startUs, t.audio.length, t.video.length])).toEqual([
        ['amy', 1000, 1, 0],
        ['bob', 2000, 1, 2],
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('lays five people out in a 3-column grid, mixes their voices, and delays each by when they started', () => {
    const args = mixArgs(
      Array.from({ length: 5 }, (_, i) => ({ video: `v${i}.webm`, audio: `a${i}.opus`, offsetMs: i * 1000 })),
      'out.webm',
    );
    const graph = args[args.indexOf('-filter_complex') + 1] ?? '';
    expect(graph).toContain('xstack=inputs=5:layout=0_0|320_0|640_0|0_240|320_240:fill=black[vout]');
    expect(graph).toContain('amix=inputs=5:duration=longest:normalize=0,asetpts=N/SR/TB[aout]');
    expect(graph).toContain('[9:a]aresample=48000:async=1,adelay=4000:all=1[a4]');
    expect(graph).toContain('tpad=start_duration=2.000');
    expect(args.at(-1)).toBe('out.webm');
    // One person with no video: audio only, no grid.
    const solo = mixArgs([{ audio: 'a.opus', offsetMs: 0 }], 'o.webm');
    expect(solo).not.toContain('[vout]');
    expect(() => mixArgs([{ offsetMs: 0 }], 'o.webm')).toThrow(/nothing to mix/);
  });
});
