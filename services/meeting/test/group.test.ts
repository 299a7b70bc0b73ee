import { fromJson } from '@bufbuild/protobuf';
import { ServiceError } from '@lessoncall/kit';
import { type Harness, setup } from '@lessoncall/kit/testing';
import { BookingConfirmedSchema, MeetingCreatedSchema, subjects } from '@lessoncall/proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { MeetingService } from '../src/index';
import { bookingBody, meetingsOf, publish, start, stranger, student, tutor } from './helpers';

const lessonStart = new Date(Date.now() + 5 * 60_000);
const classmates = ['44444444-4444-4444-8444-444444444401', '44444444-4444-4444-8444-444444444402', '44444444-4444-4444-8444-444444444403'];

describe('group and recorded lessons', () => {
  let h: Harness;
  let svc: MeetingService;

  beforeAll(async () => {
    h = await setup({ postgres: true, auth: true });
    svc = await start(h, undefined, { GROUP_MAX_STUDENTS: '5' });
  });
  afterAll(async () => {
    await svc.stop();
    await h.cleanup();
  });

  const create = (bookingId: string, extra: { studentIds?: string[]; record?: boolean; studentId?: string }) =>
    meetingsOf(h.nc).createMeeting({ ...bookingBody(bookingId, lessonStart), ...extra, actorIsService: true });
  const verify = (meetingId: string, passcode: string, userId: string) => meetingsOf(h.nc).verifyJoin({ meetingId, userId, passcode, clientKey: '' });
  const failure = async (p: Promise<unknown>) => {
    const err = await p.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ServiceError);
    return err as ServiceError;
  };

  it('a group of more than the mesh holds runs on the SFU; every student may join, a stranger may not', async () => {
    const r = await create('group-1', { studentIds: [student, ...classmates] });
    expect(r.meeting).toMatchObject({ studentId: student, studentIds: [student, ...classmates], mediaMode: 'sfu', record: false });
    for (const s of classmates) expect((await verify(r.meeting!.meetingId, r.passcode, s)).userType).toBe('student');
    expect((await verify(r.meeting!.meetingId, r.passcode, tutor)).userType).toBe('tutor');
    expect((await failure(verify(r.meeting!.meetingId, r.passcode, stranger))).code).toBe('not_a_participant');
  });

  it('a 1:1 lesson stays peer to peer unless it is recorded; the same booking with other students is a conflict', async () => {
    expect((await create('group-2', {})).meeting).toMatchObject({ mediaMode: 'p2p', studentIds: [student] });
    expect((await create('group-3', { studentIds: [student, classmates[0]!] })).meeting?.mediaMode).toBe('p2p');
    expect((await create('group-4', { record: true })).meeting).toMatchObject({ mediaMode: 'sfu', record: true });
    expect((await failure(create('group-3', { studentIds: [student, classmates[1]!] }))).code).toBe('conflict');
  });

  it('refuses a group over the limit, a duplicate and the tutor among the students, naming the field', async () => {
    const six = [student, ...classmates, '44444444-4444-4444-8444-444444444404', '44444444-4444-4444-8444-444444444405'];
    expect(await failure(create('group-5', { studentIds: six }))).toMatchObject({ code: 'invalid_request', field: 'studentIds' });
    expect(await failure(create('group-6', { studentIds: [student, student] }))).toMatchObject({ code: 'invalid_request', field: 'studentIds' });
    expect(await failure(create('group-7', { studentIds: [student, tutor] }))).toMatchObject({ code: 'invalid_request', field: 'studentIds' });
  });

  it('booking.confirmed with studentIds and record makes a recorded group meeting, announced with its students', async () => {
    const sub = h.nc.subscribe('meeting.created.*', { max: 1 });
    await publish(
      h,
      subjects.bookingConfirmed,
      BookingConfirmedSchema,
      { ...bookingBody('group-8', lessonStart), studentIds: [student, ...classmates], record: true },
      { id: 'confirm-group-8' },
    );
    let created: ReturnType<typeof fromJson<typeof MeetingCreatedSchema>> | undefined;
    for await (const m of sub) created = fromJson(MeetingCreatedSchema, m.json());
    expect(created?.meeting).toMatchObject({ bookingId: 'group-8', studentIds: [student, ...classmates], mediaMode: 'sfu', record: true });
    const found = await meetingsOf(h.nc).findMeetingByBooking({ bookingId: 'group-8', userId: classmates[2]!, actorIsService: false });
    expect(found.meeting?.meetingId).toBe(created?.meeting?.meetingId);
  });
});
