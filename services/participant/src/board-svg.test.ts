import { describe, expect, it } from 'vitest';
import { renderBoardSvg } from './board-svg';

const rect = {
  id: 'r',
  type: 'rectangle',
  x: 10,
  y: 20,
  width: 100,
  height: 50,
  strokeColor: '#1971c2',
  backgroundColor: 'transparent',
  strokeWidth: 2,
  index: 'a1',
};

describe('renderBoardSvg', () => {
  it('frames the drawn elements with a margin and draws each kind', () => {
    const out = renderBoardSvg([
      rect,
      { id: 'e', type: 'ellipse', x: 200, y: 0, width: 40, height: 40, index: 'a2' },
      { id: 'd', type: 'diamond', x: 0, y: 100, width: 20, height: 20, index: 'a3' },
      {
        id: 'a',
        type: 'arrow',
        x: 0,
        y: 0,
        points: [
          [0, 0],
          [50, 0],
        ],
        index: 'a4',
      },
      {
        id: 'f',
        type: 'freedraw',
        x: 5,
        y: 5,
        points: [
          [0, 0],
          [1, 2],
          [3, 4],
        ],
        index: 'a5',
      },
      { id: 't', type: 'text', x: 0, y: 200, width: 60, height: 25, text: 'line 1\nline 2', fontSize: 20, index: 'a6' },
    ]);
    expect(out.elements).toBe(6);
    expect(out.skipped).toBe(0);
    // x from 0 to 240, y from 0 to 250 (text: two lines of 25), plus 16 on every side.
    expect([out.width, out.height]).toEqual([272, 282]);
    expect(out.svg).toContain('viewBox="-16 -16 272 282"');
    for (const tag of ['<rect x="10" y="20" width="100" height="50"', '<ellipse', '<polygon', '<polyline', '<tspan']) expect(out.svg).toContain(tag);
    // The arrow has its head: two polylines.
    expect(out.svg.match(/<polyline/g)).toHaveLength(3);
  });

  it('skips deleted elements and what it cannot draw, and paints in z-order', () => {
    const out = renderBoardSvg([
      { ...rect, id: 'top', index: 'a9', strokeColor: '#ff0000' },
      { ...rect, id: 'gone', isDeleted: true, strokeColor: '#00ff00' },
      { id: 'img', type: 'image', x: 0, y: 0, width: 10, height: 10, index: 'a0' },
      { ...rect, id: 'bottom', index: 'a1', strokeColor: '#0000ff' },
      'not an element',
      null,
    ]);
    expect(out.elements).toBe(2);
    expect(out.skipped).toBe(1);
    expect(out.svg).not.toContain('#00ff00');
    expect(out.svg.indexOf('#0000ff')).toBeLessThan(out.svg.indexOf('#ff0000'));
  });

  it('copies nothing from a hostile client into the document unchecked', () => {
    const out = renderBoardSvg([
      { ...rect, strokeColor: '"/><script>alert(1)</script>', backgroundColor: 'url(https://evil.example/x)', strokeWidth: Number.NaN },
      { id: 't', type: 'text', x: 0, y: 0, width: 10, height: 10, text: '</text><script>x</script> & "q"', fontFamily: '"><x' },
      { ...rect, x: 1e300, width: Number.POSITIVE_INFINITY },
    ]);
    expect(out.svg).not.toMatch(/<script|url\(|evil|NaN|Infinity|e\+/);
    expect(out.svg).toContain('&lt;/text&gt;&lt;script&gt;x&lt;/script&gt; &amp; &quot;q&quot;');
    expect(out.svg).toContain('stroke="#1e1e1e"');
  });

  it('draws an empty board as a small blank image', () => {
    const out = renderBoardSvg([]);
    expect([out.elements, out.width, out.height]).toEqual([0, 320, 180]);
    expect(out.svg).toMatch(/^<svg xmlns="http:\/\/www.w3.org\/2000\/svg" width="320" height="180"/);
  });
});
