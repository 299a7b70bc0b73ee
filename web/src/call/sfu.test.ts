import { describe, expect, it } from 'vitest';
import { browserSimulcasts, simulcastEncodings } from './sfu';

describe('who publishes simulcast', () => {
  it('Chromium in every dress (headless too), not Firefox or Safari', () => {
    const chrome = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36';
    const headless = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.6778.139 Safari/537.36';
    const edge = `${chrome} Edg/131.0.0.0`;
    const firefox = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0';
    const safari = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15';
    expect([chrome, headless, edge].map(browserSimulcasts)).toEqual([true, true, true]);
    expect([firefox, safari, ''].map(browserSimulcasts)).toEqual([false, false, false]);
  });

  it('three layers, highest first, each half the size of the one above', () => {
    expect(simulcastEncodings.map((e) => e.rid)).toEqual(['h', 'm', 'l']);
    expect(simulcastEncodings.map((e) => e.scaleResolutionDownBy ?? 1)).toEqual([1, 2, 4]);
  });
});
