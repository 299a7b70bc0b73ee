/**
 * The final whiteboard as an SVG document, drawn from the stored Excalidraw elements in plain
 * Node: no browser, no DOM, no canvas (Excalidraw's own exportToSvg needs all three). It draws
 * the shapes a lesson uses — rectangles, ellipses, diamonds, lines, arrows, freehand strokes,
 * text — with clean strokes instead of Excalidraw's hand-drawn roughness, and skips what it
 * cannot draw faithfully (images, embeds), counting them.
 *
 * Every value comes from a client, so nothing is copied into the document unchecked: numbers
 * must be finite, colours must look like colours, text is escaped. The result has no scripts,
 * no external references and no event attributes.
 */

export interface BoardImageResult {
  svg: string;
  width: number;
  height: number;
  /** Elements drawn (deleted ones are not counted). */
  elements: number;
  /** Elements of a kind this renderer does not draw. */
  skipped: number;
}

interface Box {
  minX: number;
  minY: number;
  maxX: number;
  maxY: number;
}

const padding = 16;
const maxCoordinate = 1e6;
const colourPattern = /^(#[0-9a-fA-F]{3,8}|transparent|[a-zA-Z]{1,20})$/;
const fontFamilies: Record<number, string> = {
  1: 'Virgil, Segoe UI Emoji, sans-serif',
  2: 'Helvetica, Arial, sans-serif',
  3: 'Cascadia, Menlo, monospace',
  5: 'Excalifont, Segoe UI Emoji, sans-serif',
  6: 'Nunito, Segoe UI Emoji, sans-serif',
  8: 'Comic Shanns, monospace',
};

function num(value: unknown, fallback = 0): number {
  return typeof value === 'number' && Number.isFinite(value) ? Math.max(-maxCoordinate, Math.min(maxCoordinate, value)) : fallback;
}

function colour(value: unknown, fallback: string): string {
  return typeof value === 'string' && colourPattern.test(value) ? value : fallback;
}

function escapeText(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

/** Short numbers: the image of a long lesson stays small. */
function f(n: number): string {
  return String(Math.round(n * 10) / 10);
}

function points(value: unknown): [number, number][] {
  if (!Array.isArray(value)) return [];
  const out: [number, number][] = [];
  for (const p of value.slice(0, 20_000)) {
    if (Array.isArray(p) && p.length >= 2) out.push([num(p[0]), num(p[1])]);
  }
  return out;
}

interface Shape {
  body: string;
  box: Box;
}

/** One element as SVG markup and its bounding box (before rotation, which rarely matters for the frame). */
function shape(el: Record<string, unknown>): Shape | undefined {
  const type = el.type;
  const x = num(el.x);
  const y = num(el.y);
  const w = num(el.width);
  const h = num(el.height);
  const stroke = colour(el.strokeColor, '#1e1e1e');
  const fill = colour(el.backgroundColor, 'transparent');
  const strokeWidth = Math.max(0.5, Math.min(40, num(el.strokeWidth, 2)));
  const opacity = Math.max(0, Math.min(100, num(el.opacity, 100))) / 100;
  const dash =
    el.strokeStyle === 'dashed'
      ? ` stroke-dasharray="${f(strokeWidth * 4)} ${f(strokeWidth * 3)}"`
      : el.strokeStyle === 'dotted'
        ? ` stroke-dasharray="${f(strokeWidth)} ${f(strokeWidth * 3)}"`
        : '';
  const paint = `stroke="${stroke}" stroke-width="${f(strokeWidth)}" fill="${fill}"${dash}`;
  const angle = num(el.angle);
  const rotate = angle ? ` transform="rotate(${f((angle * 180) / Math.PI)} ${f(x + w / 2)} ${f(y + h / 2)})"` : '';
  const group = (inner: string) => `<g opacity="${f(opacity)}"${rotate}>${inner}</g>`;
  const box: Box = { minX: Math.min(x, x + w), minY: Math.min(y, y + h), maxX: Math.max(x, x + w), maxY: Math.max(y, y + h) };
  switch (type) {
    case 'rectangle':
    case 'frame': {
      const rx = el.roundness ? Math.min(Math.abs(w), Math.abs(h)) * 0.1 : 0;
      return { body: group(`<rect x="${f(box.minX)}" y="${f(box.minY)}" width="${f(Math.abs(w))}" height="${f(Math.abs(h))}" rx="${f(rx)}" ${paint}/>`), box };
    }
    case 'ellipse':
      return { body: group(`<ellipse cx="${f(x + w / 2)}" cy="${f(y + h / 2)}" rx="${f(Math.abs(w) / 2)}" ry="${f(Math.abs(h) / 2)}" ${paint}/>`), box };
    case 'diamond': {
      const d = [
        [x + w / 2, y],
        [x + w, y + h / 2],
        [x + w / 2, y + h],
        [x, y + h / 2],
      ];
      return { body: group(`<polygon points="${d.map(([px, py]) => `${f(px as number)},${f(py as number)}`).join(' ')}" ${paint}/>`), box };
    }
    case 'line':
    case 'arrow':
    case 'freedraw': {
      const pts = points(el.points).map(([px, py]) => [x + px, y + py] as [number, number]);
      if (pts.length === 0) return undefined;
      const b = pts.reduce<Box>(
        (acc, [px, py]) => ({ minX: Math.min(acc.minX, px), minY: Math.min(acc.minY, py), maxX: Math.max(acc.maxX, px), maxY: Math.max(acc.maxY, py) }),
        { minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity },
      );
      const round = 'stroke-linecap="round" stroke-linejoin="round"';
      const lineFill = type === 'line' && fill !== 'transparent' ? fill : 'none';
      const width = type === 'freedraw' ? f(strokeWidth * 1.5) : f(strokeWidth);
      let body = `<polyline points="${pts.map(([px, py]) => `${f(px)},${f(py)}`).join(' ')}" stroke="${stroke}" stroke-width="${width}" fill="${lineFill}" ${round}${dash}/>`;
      if (type === 'arrow' && pts.length >= 2 && el.endArrowhead !== null)
        body += arrowhead(pts[pts.length - 2] as [number, number], pts[pts.length - 1] as [number, number], stroke, strokeWidth);
      return { body: `<g opacity="${f(opacity)}">${body}</g>`, box: b };
    }
    case 'text': {
      const text = typeof el.text === 'string' ? el.text.slice(0, 20_000) : '';
      if (text === '') return undefined;
      const fontSize = Math.max(4, Math.min(400, num(el.fontSize, 20)));
      const family = fontFamilies[num(el.fontFamily, 5)] ?? fontFamilies[5];
      const align = el.textAlign === 'center' ? 'middle' : el.textAlign === 'right' ? 'end' : 'start';
      const ax = align === 'middle' ? x + w / 2 : align === 'end' ? x + w : x;
      const lineHeight = fontSize * Math.max(0.8, Math.min(3, num(el.lineHeight, 1.25)));
      const lines = text.split('\n');
      const spans = lines.map((line, i) => `<tspan x="${f(ax)}" y="${f(y + fontSize + i * lineHeight)}">${escapeText(line)}</tspan>`).join('');
      const tb: Box = { minX: x, minY: y, maxX: x + Math.max(w, 1), maxY: y + Math.max(h, lines.length * lineHeight) };
      return {
        body: group(`<text font-family="${family}" font-size="${f(fontSize)}" fill="${stroke}" text-anchor="${align}" xml:space="preserve">${spans}</text>`),
        box: tb,
      };
    }
    default:
      return undefined;
  }
}

function arrowhead(from: [number, number], to: [number, number], stroke: string, strokeWidth: number): string {
  const angle = Math.atan2(to[1] - from[1], to[0] - from[0]);
  const size = 10 + strokeWidth * 2;
  const wing = (side: number) => [to[0] - size * Math.cos(angle + side * 0.45), to[1] - size * Math.sin(angle + side * 0.45)] as const;
  const [lx, ly] = wing(1);
  const [rx, ry] = wing(-1);
  return `<polyline points="${f(lx)},${f(ly)} ${f(to[0])},${f(to[1])} ${f(rx)},${f(ry)}" stroke="${stroke}" stroke-width="${f(strokeWidth)}" fill="none" stroke-linecap="round" stroke-linejoin="round"/>`;
}

/** Excalidraw's z-order: the fractional `index` where present, else the stored order. */
function byIndex(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const ia = typeof a.index === 'string' ? a.index : '';
  const ib = typeof b.index === 'string' ? b.index : '';
  return ia < ib ? -1 : ia > ib ? 1 : 0;
}

export function renderBoardSvg(elements: readonly unknown[]): BoardImageResult {
  const live = elements
    .filter((e): e is Record<string, unknown> => typeof e === 'object' && e !== null && !Array.isArray(e))
    .filter((e) => e.isDeleted !== true)
    .sort(byIndex);
  const shapes: Shape[] = [];
  let skipped = 0;
  for (const el of live) {
    const s = shape(el);
    if (s) shapes.push(s);
    else skipped += 1;
  }
  const box = shapes.reduce<Box>(
    (acc, s) => ({
      minX: Math.min(acc.minX, s.box.minX),
      minY: Math.min(acc.minY, s.box.minY),
      maxX: Math.max(acc.maxX, s.box.maxX),
      maxY: Math.max(acc.maxY, s.box.maxY),
    }),
    { minX: Infinity, minY: Infinity, maxX: -Infinity, maxY: -Infinity },
  );
  const empty = shapes.length === 0;
  const minX = empty ? 0 : box.minX - padding;
  const minY = empty ? 0 : box.minY - padding;
  const width = Math.ceil(empty ? 320 : box.maxX - box.minX + 2 * padding);
  const height = Math.ceil(empty ? 180 : box.maxY - box.minY + 2 * padding);
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="${f(minX)} ${f(minY)} ${width} ${height}">` +
    `<rect x="${f(minX)}" y="${f(minY)}" width="${width}" height="${height}" fill="#ffffff"/>` +
    shapes.map((s) => s.body).join('') +
    '</svg>';
  return { svg, width, height, elements: shapes.length, skipped };
}
