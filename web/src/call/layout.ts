/**
 * The stage of a group lesson on the SFU (2 to 25 people): the active speaker large, the others
 * in a grid of pages, and which video layer each tile wants. Pure, so the rules are tested
 * without a browser; CallRoom renders the result and the SfuSession receives only what is shown.
 */

export interface Spotlight {
  /** The session in the large tile. */
  id: string;
  /** When it got there (ms). */
  since: number;
}

/** How long the large tile stays on someone before another speaker may take it: no flicker when two talk in turns. */
export const spotlightHoldMs = 3_000;

/**
 * The large tile after this speaker poll: the active speaker (a remote session; `self` never
 * takes it) once the current one has been there `holdMs`; at once when the current one left; the
 * first of the room when nobody has spoken yet.
 */
export function nextSpotlight(
  prev: Spotlight | undefined,
  peers: readonly string[],
  speaker: string | undefined,
  now: number,
  holdMs = spotlightHoldMs,
): Spotlight | undefined {
  const first = peers[0];
  if (first === undefined) return undefined;
  const current = prev && peers.includes(prev.id) ? prev : undefined;
  const candidate = speaker !== undefined && peers.includes(speaker) ? speaker : undefined;
  if (!current) return { id: candidate ?? first, since: now };
  if (candidate !== undefined && candidate !== current.id && now - current.since >= holdMs) return { id: candidate, since: now };
  return current;
}

export interface StageLayout {
  /** The large tile (undefined: nobody else is here). */
  large: string | undefined;
  /** The other tiles of the current page. */
  grid: string[];
  /** 0-based, clamped to the pages there are. */
  page: number;
  pages: number;
}

/**
 * Who is shown: the spotlight large, the others paged `pageSize` at a time in join order. The
 * active speaker is always in sight: while the large tile is held on someone else, a speaker on
 * another page takes the current page's last place.
 */
export function stageLayout(o: {
  peers: readonly string[];
  spotlight: string | undefined;
  speaker: string | undefined;
  page: number;
  pageSize: number;
}): StageLayout {
  const large = o.spotlight !== undefined && o.peers.includes(o.spotlight) ? o.spotlight : o.peers[0];
  const rest = o.peers.filter((p) => p !== large);
  const size = Math.max(1, Math.floor(o.pageSize));
  const pages = Math.max(1, Math.ceil(rest.length / size));
  const page = Math.min(Math.max(0, Math.floor(o.page) || 0), pages - 1);
  const grid = rest.slice(page * size, page * size + size);
  const speaker = o.speaker;
  if (speaker !== undefined && speaker !== large && rest.includes(speaker) && !grid.includes(speaker)) {
    if (grid.length >= size) grid[grid.length - 1] = speaker;
    else grid.push(speaker);
  }
  return { large, grid, page, pages };
}

/** Up to this width (CSS px, the stylesheet's phone breakpoint) the stage is a phone's: fewer, larger tiles per page. */
export const phoneMaxWidthPx = 720;

/** Other people per page besides the large tile; with one's own tile the grid is 3×3 on a desktop, 2×2 on a phone. */
export function pageSizeFor(viewportWidthPx: number): number {
  return viewportWidthPx <= phoneMaxWidthPx ? 3 : 8;
}

/**
 * The simulcast layer (VideoRoom substream: 0 low, 1 medium, 2 high) that fills a tile of this
 * rendered width without sending more pixels than it shows. The publisher's layers are the
 * camera's width (up to 1280), a half and a quarter of it.
 */
export function substreamFor(tileWidthPx: number, devicePixelRatio = 1): 0 | 1 | 2 {
  const px = tileWidthPx * Math.max(1, devicePixelRatio);
  if (px > 640) return 2;
  if (px > 320) return 1;
  return 0;
}
