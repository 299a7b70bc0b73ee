import { randomUUID } from 'node:crypto';
import { type MsgHdrs, headers as natsHeaders } from '@nats-io/nats-core';
import { eventTypeOf } from '@lessoncall/proto';
import { invalidRequest } from './errors';

export interface CloudEventMeta {
  id: string;
  type: string;
  source: string;
  time: string;
  specversion: string;
}

/**
 * The `ce-source` of every event a lessoncall service publishes: `/lessoncall/<service>`, one
 * format for all of them (a URI reference, as CloudEvents asks). Other publishers (the booking
 * system) use their own.
 */
export function eventSource(service: 'meeting' | 'participant' | 'media'): string {
  return `/lessoncall/${service}`;
}

/**
 * Binary-mode CloudEvents over NATS headers. `Nats-Msg-Id` = `ce-id`, so JetStream drops a
 * duplicate publish of the same event inside its window.
 */
export function cloudEventHeaders(subject: string, source: string, options: { id?: string; time?: Date } = {}): MsgHdrs {
  const h = natsHeaders();
  const id = options.id ?? randomUUID();
  h.set('ce-specversion', '1.0');
  h.set('ce-id', id);
  h.set('ce-type', eventTypeOf(subject));
  h.set('ce-source', source);
  h.set('ce-time', (options.time ?? new Date()).toISOString());
  h.set('content-type', 'application/json');
  h.set('Nats-Msg-Id', id);
  return h;
}

/** Reads and checks the required CloudEvents attributes of a received event. */
export function readCloudEvent(h: MsgHdrs | undefined, expectedType?: string): CloudEventMeta {
  const get = (k: string) => h?.get(k) ?? '';
  const meta = {
    id: get('ce-id'),
    type: get('ce-type'),
    source: get('ce-source'),
    time: get('ce-time'),
    specversion: get('ce-specversion'),
  };
  for (const key of ['id', 'type', 'source', 'specversion'] as const) {
    if (!meta[key]) throw invalidRequest(`ce-${key}`, `missing CloudEvents header ce-${key}`);
  }
  if (meta.specversion !== '1.0') throw invalidRequest('ce-specversion', `unsupported ce-specversion ${meta.specversion}`);
  if (expectedType && meta.type !== expectedType) {
    throw invalidRequest('ce-type', `ce-type ${meta.type} does not match subject (${expectedType})`);
  }
  return meta;
}
