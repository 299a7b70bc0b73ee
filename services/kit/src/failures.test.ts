import { errors as natsErrors } from '@nats-io/nats-core';
import { describe, expect, it } from 'vitest';
import { invalidRequest, ServiceError, ServiceUnavailableError } from './errors';
import { classifyFailure } from './failures';
import { retryDelayMs } from './jetstream';

const sysErr = (code: string) => Object.assign(new Error(`connect ${code} 127.0.0.1:5432`), { code });
const pgErr = (code: string, message = 'pg') => Object.assign(new Error(message), { code, severity: 'ERROR' });

describe('classifyFailure', () => {
  it('calls the message wrong when retrying cannot help', () => {
    expect(classifyFailure(invalidRequest('bookingId', 'bad'))).toBe('invalid');
    expect(classifyFailure(new ServiceError('meeting_not_found', 'gone'))).toBe('invalid');
    expect(classifyFailure(pgErr('22P05', 'unsupported Unicode escape sequence'))).toBe('invalid');
    expect(classifyFailure(pgErr('22008', 'date/time field value out of range'))).toBe('invalid');
  });

  it('calls an outage transient: refused or reset connections, shutdown, serialization, timeouts', () => {
    expect(classifyFailure(sysErr('ECONNREFUSED'))).toBe('transient');
    expect(classifyFailure(new AggregateError([sysErr('ECONNREFUSED'), sysErr('ECONNREFUSED')]))).toBe('transient');
    expect(classifyFailure(pgErr('57P01', 'terminating connection due to administrator command'))).toBe('transient');
    expect(classifyFailure(pgErr('40001'))).toBe('transient');
    expect(classifyFailure(pgErr('08006'))).toBe('transient');
    expect(classifyFailure(new Error('Connection terminated unexpectedly'))).toBe('transient');
    expect(classifyFailure(new ServiceUnavailableError('svc.x', 'timeout'))).toBe('transient');
    expect(classifyFailure(new Error('wrapped', { cause: sysErr('ECONNRESET') }))).toBe('transient');
  });

  it('calls a NATS request or JetStream call nobody answered transient (nats.js v3 errors)', () => {
    expect(classifyFailure(new natsErrors.RequestError('no responders', { cause: new natsErrors.NoRespondersError('svc.x') }))).toBe('transient');
    expect(classifyFailure(new natsErrors.TimeoutError())).toBe('transient');
    expect(classifyFailure(Object.assign(new Error('jetstream is not enabled'), { name: 'JetStreamNotEnabled' }))).toBe('transient');
    expect(classifyFailure(new natsErrors.InvalidSubjectError('a b'))).toBe('unknown');
  });

  it('leaves anything else unknown (retried a few times, then dead-lettered)', () => {
    expect(classifyFailure(new TypeError("Cannot read properties of undefined (reading 'x')"))).toBe('unknown');
    expect(classifyFailure(new ServiceError('internal', 'boom'))).toBe('unknown');
    expect(classifyFailure('a string')).toBe('unknown');
  });
});

describe('retryDelayMs', () => {
  const policy = { baseMs: 500, maxMs: 30_000 };
  it('doubles from the base, stays between half and all of its step, and is capped', () => {
    expect(retryDelayMs(1, policy, () => 0)).toBe(250);
    expect(retryDelayMs(1, policy, () => 1)).toBe(500);
    expect(retryDelayMs(4, policy, () => 1)).toBe(4_000);
    expect(retryDelayMs(1_000, policy, () => 0)).toBe(15_000);
    expect(retryDelayMs(1_000, policy, () => 1)).toBe(30_000);
  });
});
