import { trace } from '@opentelemetry/api';
import { pino, type Logger } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: string;
  pretty?: boolean;
  /** Where JSON lines go instead of stdout (tests read what a process logs). Ignored with `pretty`. */
  destination?: { write(line: string): void };
}

/** JSON lines in production, pretty in dev; every line carries the active trace id. */
export function createLogger(service: string, options: LoggerOptions = {}): Logger {
  return pino(
    {
      name: service,
      level: options.level ?? 'info',
      base: { service },
      // Never print credentials that may ride in objects we log.
      redact: {
        paths: [
          'passcode',
          '*.passcode',
          'password',
          'token',
          '*.token',
          'accessToken',
          '*.accessToken',
          'authorization',
          '*.authorization',
          'secret',
          '*.secret',
        ],
        censor: '[redacted]',
      },
      mixin() {
        const span = trace.getActiveSpan();
        if (!span) return {};
        const ctx = span.spanContext();
        return { traceId: ctx.traceId, spanId: ctx.spanId };
      },
      ...(options.pretty ? { transport: { target: 'pino-pretty', options: { colorize: true } } } : {}),
    },
    ...(options.destination && !options.pretty ? [options.destination] : []),
  );
}
