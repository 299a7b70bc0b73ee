/**
 * W3C Trace Context (https://www.w3.org/TR/trace-context/) started in the browser, so one trace
 * runs from the user's click through the gateway (which continues an incoming `traceparent`)
 * to the services and Postgres.
 */
export type RandomBytes = (bytes: Uint8Array<ArrayBuffer>) => Uint8Array<ArrayBuffer>;

const cryptoRandom: RandomBytes = (bytes) => globalThis.crypto.getRandomValues(bytes);

const hex = (bytes: Uint8Array) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/** `00-<trace id>-<parent id>-01`: a new sampled trace; all-zero ids are invalid, so they are redrawn. */
export function newTraceparent(random: RandomBytes = cryptoRandom): string {
  const draw = (n: number) => {
    for (;;) {
      const b = random(new Uint8Array(n));
      if (b.some((x) => x !== 0)) return hex(b);
    }
  };
  return `00-${draw(16)}-${draw(8)}-01`;
}
