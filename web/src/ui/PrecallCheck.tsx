import { useId, useSyncExternalStore } from 'react';
import type { TransportResult, TurnTransport } from '../call/precall';
import { type PrecallCheck, type PrecallSnapshot, transportOrder } from '../call/precall-check';
import { MessagePanel } from './Message';

const transportName: Record<TurnTransport, string> = { udp: 'UDP', tcp: 'TCP', tls: 'TLS' };

const stepText = {
  credentials: 'Asking for a test pass to our relay…',
  relay: 'Reaching our relay over UDP, TCP and TLS…',
  loopback: 'Sending your camera and microphone through the relay for a few seconds…',
} as const;

type RowState = 'ok' | 'bad' | 'untested' | 'checking';

function Row({ testId, label, state, text }: { testId: string; label: string; state: RowState; text: string }) {
  return (
    <div className={`precall-row ${state}`} data-testid={testId} data-state={state}>
      <dt>{label}</dt>
      <dd>
        <span className="precall-mark" aria-hidden="true">
          {state === 'ok' ? '✓' : state === 'bad' ? '✕' : state === 'checking' ? '…' : '–'}
        </span>
        {text}
      </dd>
    </div>
  );
}

function transportRow(t: TransportResult, running: boolean) {
  const state: RowState = t.reachable === true ? 'ok' : t.reachable === false ? 'bad' : running ? 'checking' : 'untested';
  const text =
    t.reachable === true
      ? `Reachable${t.rttMs !== undefined ? ` (${t.rttMs} ms to set up)` : ''}`
      : t.reachable === false
        ? 'Blocked'
        : running
          ? 'Checking…'
          : 'Not offered by our relay here: not tested';
  return <Row key={t.transport} testId={`precall-${t.transport}`} label={transportName[t.transport]} state={state} text={text} />;
}

const deviceRow = (testId: string, label: string, ok: boolean | undefined, offText: string) => (
  <Row
    testId={testId}
    label={label}
    state={ok === undefined ? 'untested' : ok ? 'ok' : 'bad'}
    text={ok === undefined ? offText : ok ? 'Working' : 'Not working'}
  />
);

function Results({ snap }: { snap: Extract<PrecallSnapshot, { phase: 'running' | 'done' }> }) {
  const running = snap.phase === 'running';
  const transports = running
    ? transportOrder.map((t) => snap.transports.find((x) => x.transport === t) ?? { transport: t, reachable: undefined })
    : snap.result.transports;
  const r = snap.phase === 'done' ? snap.result : undefined;
  return (
    <dl className="precall-rows">
      {transports.map((t) => transportRow(t, running))}
      {r ? (
        <>
          <Row
            testId="precall-rtt"
            label="Round trip"
            state={r.rttMs === undefined ? 'untested' : 'ok'}
            text={r.rttMs === undefined ? 'Not measured' : `${r.rttMs} ms through our relay`}
          />
          <Row
            testId="precall-upload"
            label="Upload"
            state={r.uploadKbps === undefined ? 'untested' : 'ok'}
            text={
              r.uploadKbps === undefined
                ? 'Not measured'
                : `at least ${r.uploadKbps.toLocaleString('en')} kbit/s${r.uploadEstimated === false ? ' (what 5 s sent; this browser gives no estimate)' : ''}`
            }
          />
          {deviceRow('precall-camera', 'Camera', r.camera, 'Off: not tested')}
          {deviceRow('precall-microphone', 'Microphone', r.microphone, 'Not tested')}
        </>
      ) : null}
    </dl>
  );
}

/**
 * The lobby's connection check: started by the user, never in the way of Join (which cancels
 * it). Every state has words and a keyboard-reachable button; progress is announced politely.
 */
export function PrecallPanel({ check }: { check: PrecallCheck }) {
  const snap = useSyncExternalStore(check.subscribe, check.getSnapshot);
  const titleId = useId();
  const level = snap.phase === 'done' ? snap.verdict.level : undefined;
  return (
    <section className="precall" aria-labelledby={titleId} data-testid="precall" data-phase={snap.phase} data-level={level}>
      <div className="precall-head">
        <h2 id={titleId}>Connection check</h2>
        {snap.phase === 'running' ? (
          <button type="button" className="button secondary" data-testid="precall-stop" onClick={() => check.cancel()}>
            Stop
          </button>
        ) : (
          <button type="button" className="button secondary" data-testid="precall-start" onClick={() => void check.start()}>
            {snap.phase === 'idle' ? 'Test my connection' : 'Test again'}
          </button>
        )}
      </div>
      <p className="muted small" role="status" aria-live="polite" data-testid="precall-status">
        {snap.phase === 'idle'
          ? 'Checks our relay, your round trip and upload, camera and microphone (about 15 seconds). You can join at any time.'
          : snap.phase === 'running'
            ? stepText[snap.step]
            : snap.phase === 'done'
              ? 'Done.'
              : ''}
      </p>
      {snap.phase === 'done' ? (
        <ul className={`precall-verdict ${snap.verdict.level}`} data-testid="precall-verdict">
          {snap.verdict.lines.map((line) => (
            <li key={line}>{line}</li>
          ))}
        </ul>
      ) : null}
      {snap.phase === 'running' || snap.phase === 'done' ? <Results snap={snap} /> : null}
      {snap.phase === 'failed' ? <MessagePanel message={snap.error} testId="precall-error" tone="warning" /> : null}
    </section>
  );
}
