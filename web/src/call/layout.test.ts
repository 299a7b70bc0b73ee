import { describe, expect, it } from 'vitest';
import { nextSpotlight, pageSizeFor, stageLayout, substreamFor } from './layout';

const people = (n: number) => Array.from({ length: n }, (_, i) => `s${i + 1}`);

describe('the large tile (active speaker with a hold)', () => {
  it('starts on the first of the room, then goes to whoever speaks', () => {
    const peers = people(4);
    const a = nextSpotlight(undefined, peers, undefined, 0);
    expect(a).toEqual({ id: 's1', since: 0 });
    expect(nextSpotlight(undefined, peers, 's3', 0)?.id).toBe('s3');
    expect(nextSpotlight(a, peers, 's3', 3_000)).toEqual({ id: 's3', since: 3_000 });
  });

  it('does not flicker: a new speaker waits until the current one has had the hold time', () => {
    const peers = people(4);
    let s = nextSpotlight(undefined, peers, 's2', 0);
    s = nextSpotlight(s, peers, 's3', 1_000);
    expect(s?.id).toBe('s2');
    s = nextSpotlight(s, peers, 's2', 2_000);
    s = nextSpotlight(s, peers, 's3', 2_900);
    expect(s?.id).toBe('s2');
    s = nextSpotlight(s, peers, 's3', 3_000);
    expect(s).toEqual({ id: 's3', since: 3_000 });
    // Silence keeps the last speaker large.
    expect(nextSpotlight(s, peers, undefined, 60_000)?.id).toBe('s3');
  });

  it('never shows oneself large, and replaces someone who left at once', () => {
    const s = nextSpotlight(undefined, people(3), 'self', 0);
    expect(s?.id).toBe('s1');
    expect(nextSpotlight({ id: 's2', since: 0 }, ['s1', 's3'], undefined, 10)).toEqual({ id: 's1', since: 10 });
    expect(nextSpotlight({ id: 's2', since: 0 }, ['s1', 's3'], 's3', 10)).toEqual({ id: 's3', since: 10 });
    expect(nextSpotlight({ id: 's2', since: 0 }, [], 's3', 10)).toBeUndefined();
  });
});

describe('the stage: large tile and pages', () => {
  it('two people: the other one large, no grid, one page', () => {
    expect(stageLayout({ peers: ['s1'], spotlight: 's1', speaker: undefined, page: 0, pageSize: 8 })).toEqual({ large: 's1', grid: [], page: 0, pages: 1 });
    expect(stageLayout({ peers: [], spotlight: undefined, speaker: undefined, page: 0, pageSize: 8 })).toEqual({
      large: undefined,
      grid: [],
      page: 0,
      pages: 1,
    });
  });

  it('25 people: 24 others, one large and 23 in pages of 8 (3 pages), every one shown exactly once across the pages', () => {
    const peers = people(24);
    const seen: string[] = [];
    for (let page = 0; page < 3; page++) {
      const l = stageLayout({ peers, spotlight: 's5', speaker: undefined, page, pageSize: 8 });
      expect(l.large).toBe('s5');
      expect(l.pages).toBe(3);
      expect(l.page).toBe(page);
      expect(l.grid.length).toBe(page < 2 ? 8 : 7);
      seen.push(...l.grid);
    }
    expect(seen.sort()).toEqual(peers.filter((p) => p !== 's5').sort());
  });

  it('clamps the page when people leave (page 3 of 3 becomes page 2 of 2)', () => {
    const l = stageLayout({ peers: people(12), spotlight: 's1', speaker: undefined, page: 2, pageSize: 8 });
    expect(l).toMatchObject({ page: 1, pages: 2, grid: ['s10', 's11', 's12'] });
    expect(stageLayout({ peers: people(3), spotlight: 's1', speaker: undefined, page: -4, pageSize: 8 }).page).toBe(0);
  });

  it('keeps the active speaker in sight while the large tile is held on someone else', () => {
    // s20 speaks, but s1 still has the hold: s20 takes page 1's last place.
    const full = stageLayout({ peers: people(24), spotlight: 's1', speaker: 's20', page: 0, pageSize: 8 });
    expect(full.grid).toHaveLength(8);
    expect(full.grid[7]).toBe('s20');
    expect(full.grid.slice(0, 7)).toEqual(['s2', 's3', 's4', 's5', 's6', 's7', 's8']);
    // A last page with room: added, nobody dropped.
    const last = stageLayout({ peers: people(12), spotlight: 's1', speaker: 's3', page: 1, pageSize: 8 });
    expect(last.grid).toEqual(['s10', 's11', 's12', 's3']);
    // Already shown (large or on the page): nothing moves.
    expect(stageLayout({ peers: people(12), spotlight: 's1', speaker: 's1', page: 1, pageSize: 8 }).grid).toEqual(['s10', 's11', 's12']);
    expect(stageLayout({ peers: people(12), spotlight: 's1', speaker: 'self', page: 1, pageSize: 8 }).grid).toEqual(['s10', 's11', 's12']);
  });

  it('a phone gets fewer tiles per page than a desktop', () => {
    expect(pageSizeFor(390)).toBe(3);
    expect(pageSizeFor(720)).toBe(3);
    expect(pageSizeFor(721)).toBe(8);
    expect(pageSizeFor(1280)).toBe(8);
    expect(stageLayout({ peers: people(5), spotlight: 's1', speaker: undefined, page: 0, pageSize: pageSizeFor(390) })).toMatchObject({
      pages: 2,
      grid: ['s2', 's3', 's4'],
    });
  });
});

describe('the simulcast layer for a tile', () => {
  it('large tile: high; grid tile: medium or low; more device pixels: a layer up', () => {
    expect(substreamFor(760)).toBe(2);
    expect(substreamFor(400)).toBe(1);
    expect(substreamFor(200)).toBe(0);
    expect(substreamFor(200, 2)).toBe(1);
    expect(substreamFor(170, 3)).toBe(1);
    expect(substreamFor(0)).toBe(0);
  });
});
