import { execFile } from 'node:child_process';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { type Clock, type Db, eventSource, type Logger, publishEvent } from '@lessoncall/kit';
import { RecordingReadySchema, subjects } from '@lessoncall/proto';
import type { JetStreamClient } from '@nats-io/jetstream';
import type { MediaMetrics } from './metrics';
import type { RecordingStorage } from './storage';

const run = promisify(execFile);

/** One participant's tracks as Janus wrote them (`videoroom-<room>-user-<id>-<µs>-<audio|video>-<mindex>.mjr`). */
export interface ParticipantTracks {
  id: string;
  /** When the first of its tracks started (µs since the epoch, from the file name). */
  startUs: number;
  audio: string[];
  video: string[];
}

const mjrName = /^videoroom-(.+)-user-(.+)-(\d+)-(audio|video|data)(?:-\d+)?\.mjr$/;

/** Groups a room's .mjr files (every generation's folder) by participant. */
export async function findTracks(dir: string): Promise<ParticipantTracks[]> {
  const files: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true }).catch(() => [])) {
      if (e.isDirectory()) await walk(join(d, e.name));
      else if (e.name.endsWith('.mjr')) files.push(join(d, e.name));
    }
  };
  await walk(dir);
  const by = new Map<string, ParticipantTracks>();
  for (const f of files.sort()) {
    const m = mjrName.exec(f.slice(f.lastIndexOf('/') + 1));
    if (!m) continue;
    const [, , id = '', us = '0', kind] = m;
    if (kind === 'data') continue;
    const p = by.get(id) ?? { id, startUs: Number(us), audio: [], video: [] };
    p.startUs = Math.min(p.startUs, Number(us));
    (kind === 'audio' ? p.audio : p.video).push(f);
    by.set(id, p);
  }
  return [...by.values()].sort((a, b) => a.startUs - b.startUs);
}

/**
 * ffmpeg arguments that mix every participant into one WebM: videos scaled to one tile each
 * and laid out in a grid (xstack), voices mixed (amix), each delayed by when its owner started
 * so that they stay in step. `inputs`: per participant its converted video and audio files.
 */
export function mixArgs(inputs: { video?: string; audio?: string; offsetMs: number }[], output: string, tile = { width: 320, height: 240 }): string[] {
  const args: string[] = ['-hide_banner', '-loglevel', 'error', '-y'];
  const filters: string[] = [];
  const videos: string[] = [];
  const audios: string[] = [];
  let index = 0;
  for (const p of inputs) {
    if (p.video) {
      args.push('-i', p.video);
      filters.push(
        `[${index}:v]scale=${tile.width}:${tile.height}:force_original_aspect_ratio=decrease,pad=${tile.width}:${tile.height}:(ow-iw)/2:(oh-ih)/2,setsar=1,fps=15,tpad=start_duration=${(p.offsetMs / 1000).toFixed(3)}:color=black[v${videos.length}]`,
      );
      videos.push(`[v${videos.length}]`);
      index += 1;
    }
    if (p.audio) {
      args.push('-i', p.audio);
      // async: a voice with gaps (silence suppression, a reconnect) is stretched back onto its clock.
      filters.push(`[${index}:a]aresample=48000:async=1,adelay=${Math.round(p.offsetMs)}:all=1[a${audios.length}]`);
      audios.push(`[a${audios.length}]`);
      index += 1;
    }
  }
  if (videos.length === 0 && audios.length === 0) throw new Error('nothing to mix');
  const maps: string[] = [];
  if (videos.length === 1) {
    filters.push(`${videos[0]}null[vout]`);
  } else if (videos.length > 1) {
    const columns = Math.ceil(Math.sqrt(videos.length));
    const layout = videos.map((_, i) => `${(i % columns) * tile.width}_${Math.floor(i / columns) * tile.height}`).join('|');
    filters.push(`${videos.join('')}xstack=inputs=${videos.length}:layout=${layout}:fill=black[vout]`);
  }
  if (videos.length > 0) maps.push('-map', '[vout]', '-c:v', 'libvpx', '-deadline', 'realtime', '-cpu-used', '8', '-b:v', '600k');
  // Timestamps made again from the sample count: a browser's Opus can repeat one, which players forgive and muxers do not.
  if (audios.length === 1) filters.push(`${audios[0]}asetpts=N/SR/TB[aout]`);
  else if (audios.length > 1) filters.push(`${audios.join('')}amix=inputs=${audios.length}:duration=longest:normalize=0,asetpts=N/SR/TB[aout]`);
  if (audios.length > 0) maps.push('-map', '[aout]', '-c:a', 'libopus', '-b:a', '64k');
  return [...args, '-filter_complex', filters.join(';'), ...maps, output];
}

export interface RecordingsDeps {
  db: Db;
  js: JetStreamClient;
  storage: RecordingStorage;
  clock: Clock;
  logger: Logger;
  metrics: MediaMetrics;
  /** Where the nodes wrote the .mjr files (JANUS_RECORDINGS_DIR). */
  recordingsDir: string;
  /** The recording_url clients are given (the gateway's endpoint, which signs a short-lived link). */
  urlOf: (meetingId: string) => string;
}

/**
 * After a recorded meeting: Janus's .mjr files → `janus-pp-rec` (one playable file per track) →
 * ffmpeg (one WebM with everyone) → storage → recording.ready (the meeting service sets
 * recording_url from it). The room row tracks the state, so a failure is visible and retried
 * by the next delivery of meeting.ended.
 */
export class Recordings {
  readonly #d: RecordingsDeps;

  constructor(deps: RecordingsDeps) {
    this.#d = deps;
  }

  async process(meetingId: string): Promise<void> {
    const { db, storage, logger, metrics, clock } = this.#d;
    const started = Date.now();
    const work = await mkdtemp(join(tmpdir(), `lessoncall-rec-${meetingId}-`));
    try {
      const tracks = await findTracks(join(this.#d.recordingsDir, meetingId));
      if (tracks.length === 0) {
        await db.asService((tx) =>
          tx.query(`update media_rooms set recording_status = 'failed', recording_error = $2 where meeting_id = $1`, [meetingId, 'nothing was recorded']),
        );
        metrics.recordings.add(1, { outcome: 'failed' });
        logger.warn({ meetingId }, 'recorded meeting without any track');
        return;
      }
      const first = tracks[0]!.startUs;
      const inputs: { video?: string; audio?: string; offsetMs: number }[] = [];
      for (const [i, t] of tracks.entries()) {
        // A participant that reconnected has several files per kind; the first of each is the lesson's bulk.
        const convert = async (mjr: string | undefined, ext: string) => {
          if (!mjr) return undefined;
          const out = join(work, `p${i}.${ext}`);
          await run('janus-pp-rec', [mjr, out], { timeout: 600_000 });
          return (await stat(out).catch(() => undefined))?.size ? out : undefined;
        };
        const video = await convert(t.video[0], 'webm');
        const audio = await convert(t.audio[0], 'opus');
        inputs.push({ ...(video ? { video } : {}), ...(audio ? { audio } : {}), offsetMs: (t.startUs - first) / 1000 });
      }
      const mixed = join(work, 'mixed.webm');
      await run('ffmpeg', mixArgs(inputs, mixed), { timeout: 1_800_000, maxBuffer: 16 * 1024 * 1024 });
      const duration = Number((await run('ffprobe', ['-v', 'error', '-show_entries', 'format=duration', '-of', 'csv=p=0', mixed])).stdout.trim()) || 0;
      const key = `recordings/${meetingId}.webm`;
      const { bytes } = await storage.put(key, mixed, 'video/webm');
      const url = this.#d.urlOf(meetingId);
      await db.asService((tx) =>
        tx.query(`update media_rooms set recording_status = 'ready', recording_key = $2, recording_error = null where meeting_id = $1`, [meetingId, key]),
      );
      await publishEvent(
        this.#d.js,
        subjects.recordingReady(meetingId),
        RecordingReadySchema,
        {
          meetingId,
          recordingUrl: url,
          storageKey: key,
          bytes: BigInt(bytes),
          durationSeconds: duration,
          tracks: tracks.length,
          readyAt: timestampFromDate(clock.now()),
        },
        { source: eventSource('media'), id: `recording.ready:${meetingId}` },
      );
      metrics.recordings.add(1, { outcome: 'ready' });
      logger.info({ meetingId, bytes, durationSeconds: duration, tracks: tracks.length, ms: Date.now() - started }, 'recording ready');
    } catch (err) {
      // Still `processing`: the next delivery of meeting.ended tries again (dead-lettered after a few).
      metrics.recordings.add(1, { outcome: 'failed' });
      await db
        .asService((tx) =>
          tx.query('update media_rooms set recording_error = $2 where meeting_id = $1', [meetingId, String((err as Error).message).slice(0, 500)]),
        )
        .catch(() => {});
      throw err;
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  }

  /** Closed recorded rooms whose recording is not made yet, oldest first. */
  async due(): Promise<string[]> {
    const { rows } = await this.#d.db.asService((tx) =>
      tx.query<{ meeting_id: string }>(
        `select meeting_id from media_rooms where status = 'closed' and recording_status = 'processing' order by closed_at limit 20`,
      ),
    );
    return rows.map((r) => r.meeting_id);
  }

  /** Recordings older than the retention: removed from storage, the room row says so. */
  async expire(olderThan: Date): Promise<number> {
    const { rows } = await this.#d.db.asService((tx) =>
      tx.query<{ meeting_id: string; recording_key: string }>(
        `select meeting_id, recording_key from media_rooms where recording_status = 'ready' and closed_at < $1 order by closed_at limit 100`,
        [olderThan],
      ),
    );
    for (const r of rows) {
      await this.#d.storage.remove(r.recording_key);
      await this.#d.db.asService((tx) => tx.query(`update media_rooms set recording_status = 'expired' where meeting_id = $1`, [r.meeting_id]));
    }
    return rows.length;
  }

  /** The stored recording's key, when it is ready. */
  async keyOf(meetingId: string): Promise<string | undefined> {
    const { rows } = await this.#d.db.asService((tx) =>
      tx.query<{ recording_key: string | null }>(`select recording_key from media_rooms where meeting_id = $1 and recording_status = 'ready'`, [meetingId]),
    );
    return rows[0]?.recording_key ?? undefined;
  }
}
