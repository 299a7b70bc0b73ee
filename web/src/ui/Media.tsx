import { useEffect, useMemo, useRef, useState } from 'react';
import { resumeVideoEvent } from '../call/lifecycle';

/** A <video> bound to a MediaStream. Remote videos carry the audio too, so they are not muted. */
export function StreamVideo({
  stream,
  track,
  muted,
  mirrored,
  testId,
  label,
  contain,
  sinkId,
}: {
  stream?: MediaStream | undefined;
  /** Show just this track (the self view of a screen share). */
  track?: MediaStreamTrack | undefined;
  muted: boolean;
  mirrored?: boolean;
  testId?: string;
  label: string;
  contain?: boolean;
  /** The speaker to play on (setSinkId, where the browser has it); undefined: the default. */
  sinkId?: string | undefined;
}) {
  const ref = useRef<HTMLVideoElement>(null);
  const [needsClick, setNeedsClick] = useState(false);
  const source = useMemo(() => (track ? new MediaStream([track]) : stream), [stream, track]);
  useEffect(() => {
    const v = ref.current;
    if (!v) return;
    if (v.srcObject !== (source ?? null)) v.srcObject = source ?? null;
    if (!source) return;
    v.play().catch((err: unknown) => {
      // Autoplay with sound refused (no click on the page yet): play muted and offer a button.
      if ((err as { name?: string }).name === 'NotAllowedError' && !muted) {
        v.muted = true;
        setNeedsClick(true);
        void v.play().catch(() => {});
      }
    });
  }, [source, muted]);
  useEffect(() => {
    const v = ref.current as (HTMLVideoElement & { setSinkId?: (id: string) => Promise<void> }) | null;
    // Safari before 18.4 has no setSinkId: audio stays on the system output (the picker is hidden there).
    if (v?.setSinkId && (sinkId !== undefined || v.sinkId)) void v.setSinkId(sinkId ?? '').catch(() => {});
  }, [sinkId]);
  // Back from the background (or a network change): a suspended element plays again.
  useEffect(() => {
    const again = () => {
      const v = ref.current;
      if (v?.srcObject && v.paused) void v.play().catch(() => {});
    };
    window.addEventListener(resumeVideoEvent, again);
    return () => window.removeEventListener(resumeVideoEvent, again);
  }, []);
  return (
    <>
      <video
        ref={ref}
        autoPlay
        playsInline
        muted={muted}
        className={`video${mirrored ? ' mirrored' : ''}${contain ? ' contain' : ''}`}
        data-testid={testId}
        aria-label={label}
      />
      {needsClick ? (
        <button
          type="button"
          className="button small unmute-audio"
          onClick={() => {
            const v = ref.current;
            if (v) {
              v.muted = false;
              void v.play();
            }
            setNeedsClick(false);
          }}
        >
          Turn on sound
        </button>
      ) : null}
    </>
  );
}

/** The microphone level, redrawn every animation frame without re-rendering React. */
export function MicMeter({ level, muted }: { level: () => number; muted: boolean }) {
  const bar = useRef<HTMLDivElement>(null);
  const meter = useRef<HTMLMeterElement>(null);
  useEffect(() => {
    let raf = 0;
    let lastSample = 0;
    let peak = 0;
    const tick = (t: number) => {
      const v = muted ? 0 : level();
      peak = Math.max(peak, v);
      if (bar.current) bar.current.style.transform = `scaleX(${v.toFixed(3)})`;
      // Assistive technology and the tests read the <meter>: the peak of the last half second.
      if (meter.current && t - lastSample > 500) {
        meter.current.value = Math.round(peak * 100);
        meter.current.dataset.level = peak.toFixed(2);
        lastSample = t;
        peak = 0;
      }
      raf = requestAnimationFrame(tick);
    };
    raf = requestAnimationFrame(tick);
    return () => cancelAnimationFrame(raf);
  }, [level, muted]);
  return (
    <div className={`mic-meter${muted ? ' muted' : ''}`}>
      <meter ref={meter} className="visually-hidden" min={0} max={100} defaultValue={0} aria-label="Microphone level" data-testid="lobby-mic-level" />
      <div ref={bar} className="mic-meter-bar" aria-hidden="true" />
    </div>
  );
}

/** The sound of someone whose tile is not on the current page (no video element plays it there). */
export function StreamAudio({ stream, sinkId }: { stream: MediaStream | undefined; sinkId: string | undefined }) {
  const ref = useRef<HTMLAudioElement & { setSinkId?: (id: string) => Promise<void> }>(null);
  useEffect(() => {
    const a = ref.current;
    if (!a) return;
    if (a.srcObject !== (stream ?? null)) a.srcObject = stream ?? null;
    if (stream) void a.play().catch(() => {});
  }, [stream]);
  useEffect(() => {
    const a = ref.current;
    if (a?.setSinkId && (sinkId !== undefined || a.sinkId)) void a.setSinkId(sinkId ?? '').catch(() => {});
  }, [sinkId]);
  // biome-ignore lint/a11y/useMediaCaption: a live call's sound has no caption track (the tile's video element has none either)
  return <audio ref={ref} autoPlay data-testid="offpage-audio" />;
}

export function Avatar({ name }: { name: string }) {
  const initials =
    name
      .split(/\s+/)
      .filter(Boolean)
      .slice(0, 2)
      .map((w) => w[0]?.toUpperCase())
      .join('') || '?';
  return (
    <div className="avatar" aria-hidden="true">
      {initials}
    </div>
  );
}
