/**
 * The stage of a group lesson on the SFU: the active speaker large, the others (and oneself) in a
 * grid, paged past what fits. Only the tiles shown get video from the room, each at the simulcast
 * layer its size needs; the others are heard through an audio element.
 */
import { useCallback, useEffect, useRef, useState } from 'react';
import type { CallController, CallSnapshot } from '../call/call';
import { pageSizeFor, stageLayout, substreamFor } from '../call/layout';
import type { VideoWanted } from '../call/sfu';
import { Icon } from './icons';
import { StreamAudio } from './Media';
import { RemoteTile, SelfTile } from './Tiles';

function useViewportWidth(): number {
  const [width, setWidth] = useState(() => window.innerWidth);
  useEffect(() => {
    const update = () => setWidth(window.innerWidth);
    window.addEventListener('resize', update);
    return () => window.removeEventListener('resize', update);
  }, []);
  return width;
}

export function SfuStage({ controller, snap }: { controller: CallController; snap: CallSnapshot }) {
  const pageSize = pageSizeFor(useViewportWidth());
  const [page, setPage] = useState(0);
  const ids = snap.peers.map((p) => p.participant.sessionId);
  const speaker = snap.activeSpeaker === 'self' ? undefined : snap.activeSpeaker;
  const layout = stageLayout({ peers: ids, spotlight: snap.spotlight, speaker, page, pageSize });
  // Someone left and the page is gone: show the last one there is.
  useEffect(() => {
    if (layout.page !== page) setPage(layout.page);
  }, [layout.page, page]);

  const widths = useRef(new Map<string, number>());
  const [measured, setMeasured] = useState(0);
  const onWidth = useCallback((id: string, w: number) => {
    if (widths.current.get(id) === w) return;
    widths.current.set(id, w);
    setMeasured((n) => n + 1);
  }, []);
  const shown = [layout.large, ...layout.grid].filter((x): x is string => x !== undefined);
  const shownKey = shown.join(',');
  // biome-ignore lint/correctness/useExhaustiveDependencies: `measured` stands for the widths in the ref; `shownKey` for `shown`
  useEffect(() => {
    const dpr = window.devicePixelRatio || 1;
    const wanted = new Map<string, VideoWanted>();
    for (const id of shown) wanted.set(id, { send: true, substream: substreamFor(widths.current.get(id) ?? 0, dpr) });
    controller.setStageVideo(wanted);
  }, [controller, shownKey, measured]);

  // Back to the 1:1 stage (someone left): every video again.
  useEffect(() => () => controller.setStageVideo(undefined), [controller]);

  const byId = new Map(snap.peers.map((p) => [p.participant.sessionId, p]));
  const tile = (id: string, large: boolean) => {
    const peer = byId.get(id);
    return peer ? <RemoteTile key={id} peer={peer} large={large} speaking={snap.activeSpeaker === id} sinkId={snap.speakerId} onWidth={onWidth} /> : null;
  };
  const offPage = snap.peers.filter((p) => !shown.includes(p.participant.sessionId));
  // Every tile a sibling in join order, the large one placed by CSS: when the spotlight moves, no
  // element moves or is made again, so no video restarts.
  return (
    <div className={`stage sfu ${layout.grid.length + 1 <= 4 ? 'cells-few' : 'cells-many'}`} data-testid="sfu-stage" data-page-size={pageSize}>
      <SelfTile snap={snap} placement="cell" />
      {ids.filter((id) => shown.includes(id)).map((id) => tile(id, id === layout.large))}
      {layout.pages > 1 ? (
        <nav className="pager" aria-label="Pages of participants" data-testid="pager">
          <button
            type="button"
            className="round small"
            aria-label="Previous page"
            data-testid="page-prev"
            disabled={layout.page === 0}
            onClick={() => setPage(layout.page - 1)}
          >
            <Icon name="chevronLeft" size={18} />
          </button>
          <span data-testid="page-label" aria-live="polite">
            Page {layout.page + 1} of {layout.pages}
          </span>
          <button
            type="button"
            className="round small"
            aria-label="Next page"
            data-testid="page-next"
            disabled={layout.page >= layout.pages - 1}
            onClick={() => setPage(layout.page + 1)}
          >
            <Icon name="chevronRight" size={18} />
          </button>
        </nav>
      ) : null}
      {offPage.map((p) => (
        <StreamAudio key={p.participant.sessionId} stream={p.stream} sinkId={snap.speakerId} />
      ))}
    </div>
  );
}
