import { type DescMethod, type DescService, getOption, hasOption } from '@bufbuild/protobuf';
import { MediaService } from '../gen/lessoncall/v1/media_service_pb';
import { MeetingService } from '../gen/lessoncall/v1/meeting_service_pb';
import { nats_queue, nats_subject } from '../gen/lessoncall/v1/nats_pb';
import { ParticipantService } from '../gen/lessoncall/v1/participant_service_pb';
import { TurnService } from '../gen/lessoncall/v1/turn_service_pb';

/** Every request/reply API on the bus, as declared in proto (`lessoncall/v1/*_service.proto`). */
export const rpcServices: readonly DescService[] = [MeetingService, ParticipantService, MediaService, TurnService];

const subjectOf = new WeakMap<DescMethod, string>();

/** The subject a method's requests go to: its `(nats_subject)` option. Throws for a method declared without one. */
export function rpcSubject(method: DescMethod): string {
  let subject = subjectOf.get(method);
  if (subject === undefined) {
    // Read once per method: getOption decodes the option from the descriptor every time.
    if (!hasOption(method, nats_subject)) throw new Error(`${method.parent.typeName}.${method.name} has no (lessoncall.v1.nats_subject) option`);
    subject = getOption(method, nats_subject);
    subjectOf.set(method, subject);
  }
  return subject;
}

/** The queue group a service's replicas join: its `(nats_queue)` option. */
export function rpcQueue(service: DescService): string {
  if (!hasOption(service, nats_queue)) throw new Error(`${service.typeName} has no (lessoncall.v1.nats_queue) option`);
  return getOption(service, nats_queue);
}

/** Every subject of a service's methods, in declaration order. */
export function rpcSubjects(service: DescService): string[] {
  return service.methods.map(rpcSubject);
}
