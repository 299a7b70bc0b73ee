import { describe, expect, it } from 'vitest';
import { rpcQueue, rpcServices, rpcSubject, rpcSubjects } from './rpc';

/**
 * The subjects as they were when they were a hand-written table: deployed callers and the
 * rendered NATS permissions (deploy/helm/lessoncall/files/nats-authorization.conf) name them,
 * so declaring the services in proto must not have moved any of them.
 */
const deployed = {
  'lessoncall.v1.MeetingService': [
    'svc.meeting.create',
    'svc.meeting.get',
    'svc.meeting.verify_join',
    'svc.meeting.end',
    'svc.meeting.find_by_booking',
    'svc.meeting.describe',
  ],
  'lessoncall.v1.ParticipantService': [
    'svc.participant.join',
    'svc.participant.leave',
    'svc.participant.mute',
    'svc.participant.list',
    'svc.participant.presence',
    'svc.participant.attendance',
    'svc.participant.live_sessions',
    'svc.participant.chat_send',
    'svc.participant.chat_history',
    'svc.participant.record',
    'svc.participant.remove',
    'svc.participant.allow_rejoin',
    'svc.participant.ask_unmute',
    'svc.participant.board_append',
    'svc.participant.board_state',
    'svc.participant.board_control',
    'svc.participant.quality_report',
    'svc.participant.removals',
  ],
  'lessoncall.v1.MediaService': ['svc.media.join', 'svc.media.recording_link'],
  'lessoncall.v1.TurnService': ['svc.turn.credentials', 'svc.turn.precall_credentials'],
};

describe('services declared in proto', () => {
  it('derive exactly the subjects callers and permissions already use', () => {
    expect(Object.fromEntries(rpcServices.map((s) => [s.typeName, rpcSubjects(s)]))).toEqual(deployed);
  });

  it('derive the queue groups of today, each service under svc.<queue>.', () => {
    expect(rpcServices.map(rpcQueue)).toEqual(['meeting', 'participant', 'media', 'turn']);
    for (const s of rpcServices) {
      for (const subject of rpcSubjects(s)) expect(subject.startsWith(`svc.${rpcQueue(s)}.`)).toBe(true);
    }
  });

  it('are all unary with distinct subjects', () => {
    const methods = rpcServices.flatMap((s) => s.methods);
    expect(methods.filter((m) => m.methodKind !== 'unary')).toEqual([]);
    expect(new Set(methods.map(rpcSubject)).size).toBe(methods.length);
  });
});
