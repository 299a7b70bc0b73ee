/**
 * WebSocket close codes of /api/video/ws, for the gateway that closes with them and the web
 * client that reacts to them: one table, so the two cannot drift. 1xxx are RFC 6455 codes;
 * 4xxx are ours (the range RFC 6455 leaves to applications).
 */
export const wsCloseCodes = {
  normal: 1000,
  policy: 1008,
  tooBig: 1009,
  /** The gateway is draining: reconnect, another replica answers. */
  restart: 1012,
  /** The client dropped its own socket on purpose (tests, credential renewal) and will resume. */
  clientDropped: 4000,
  /** The client heard nothing from the gateway for too long (a half-open connection). */
  idle: 4001,
  /** The tutor removed this session from the lesson (a `removed` message came first): do not resume or rejoin. */
  removed: 4403,
  /**
   * The access token the socket said hello with has expired (its `exp`, plus the verifier's
   * clock tolerance): get a fresh token and resume the session, as after any drop.
   */
  tokenExpired: 4401,
  /** The same session was resumed on another socket. */
  superseded: 4409,
} as const;

export type WsCloseCode = (typeof wsCloseCodes)[keyof typeof wsCloseCodes];
