/**
 * Performance marks (`lessoncall:<step>`) along the way from Join to media, visible in the
 * browser's performance timeline; the join-to-frame benchmark reads them to say where the time
 * goes. Free when nobody looks.
 */
export function mark(step: string): void {
  globalThis.performance?.mark?.(`lessoncall:${step}`);
}
