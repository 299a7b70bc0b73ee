import type { Duplex } from 'node:stream';
import type { Meter } from '@lessoncall/kit';
import { problemTypeBase } from './problem';

/**
 * Requests Node's HTTP parser refuses before express sees them (headers over the 16 KB limit —
 * a huge token —, a malformed request line). Without a handler Node answers a bare 431 or 400
 * with no body; this answers the same statuses as every other refusal: problem+json with a
 * stable code, counted.
 */
export function clientErrorHandler(meter: Meter) {
  const refused = meter.createCounter<{ reason: 'header_too_large' | 'malformed' }>('gateway_http_unparsed_requests_total', {
    description: 'Requests refused by the HTTP parser before routing, by reason (header_too_large, malformed)',
  });
  return (err: NodeJS.ErrnoException, socket: Duplex): void => {
    // A client that went away mid-request is not a bad request; nothing to answer.
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    refused.add(1, { reason: tooLarge ? 'header_too_large' : 'malformed' });
    const status = tooLarge ? 431 : 400;
    const code = tooLarge ? 'message_too_large' : 'invalid_request';
    const body = JSON.stringify({
      type: `${problemTypeBase}${code}`,
      title: tooLarge ? 'Request too large' : 'Invalid request',
      status,
      detail: tooLarge ? 'the request headers are larger than this server accepts (is the access token this big?)' : 'the request could not be parsed',
      code,
      instance: '',
      requestId: '',
    });
    socket.end(
      `HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\n` +
        `content-type: application/problem+json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  };
}
