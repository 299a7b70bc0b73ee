-- Constraints of video_meetings / video_participants: what the database itself refuses,
-- whoever writes. Runs as service_role (the role the services write with), so RLS lets
-- every row through and only the constraints decide. Everything is rolled back.

begin;
create extension if not exists pgtap;

select plan(24);

set local role service_role;

-- A valid meeting to compare against and to collide with.
select lives_ok(
  $$ insert into public.video_meetings
       (meeting_id, booking_id, tutor_id, student_id, passcode, scheduled_start, scheduled_end,
        updated_at)
     values ('MID-PGTAPCHECKS00001', 'pgtap-constraints-1',
       'e0000000-0000-4000-8000-0000000000e1', 'e0000000-0000-4000-8000-0000000000e2',
       '012345', now(), now() + interval '1 hour', '2000-01-01T00:00:00Z') $$,
  'a valid meeting is accepted (passcode with a leading zero)'
);
select is(
  (select status from public.video_meetings where meeting_id = 'MID-PGTAPCHECKS00001'),
  'pending', 'status defaults to pending'
);

-- meeting_id format: MID- and 16 of [A-Z0-9]
select throws_ok(
  $$ insert into public.video_meetings
       (meeting_id, booking_id, tutor_id, student_id, passcode, scheduled_start, scheduled_end)
     values ('MID-SHORT', 'pgtap-constraints-2',
       'e0000000-0000-4000-8000-0000000000e1', 'e0000000-0000-4000-8000-0000000000e2',
       '123456', now(), now() + interval '1 hour') $$,
  '23514',
  'new row for relation "video_meetings" violates check constraint "video_meetings_meeting_id_format"',
  'meeting_id too short is rejected'
);
select throws_ok(
  $$ insert into public.video_meetings
       (meeting_id, booking_id, tutor_id, student_id, passcode, scheduled_start, scheduled_end)
     values ('MID-abcdefghijklmnop', 'pgtap-constraints-2',
       'e0000000-0000-4000-8000-0000000000e1', 'e0000000-0000-4000-8000-0000000000e2',
       '123456', now(), now() + interval '1 hour') $$,
  '23514',
  'new row for relation "video_meetings" violates check constraint "video_meetings_meeting_id_format"',
  'meeting_id in lower case is rejected'
);
select throws_ok(
  $$ insert into public.video_meetings
       (meeting_id, booking_id, tutor_id, student_id, passcode, scheduled_start, scheduled_end)
     values ('XYZ-ABCDEFGHIJKLMNOP', 'pgtap-constraints-2',
       'e0000000-0000-4000-8000-0000000000e1', 'e0000000-0000-4000-8000-0000000000e2',
       '123456', now(), now() + interval '1 hour') $$,
  '23514',
  'new row for relation "video_meetings" violates check constraint "video_meetings_meeting_id_format"',
  'meeting_id without the MID- prefix is rejected'
);
select throws_ok(
  $$ insert into public.video_meetings
       (meeting_id, booking_id, tutor_id, student_id, passcode, scheduled_start, scheduled_end)
     values ('MID-ABCDEFGHIJKLMNOPQ', 'pgtap-constraints-2',
       'e0000000-0000-4000-8000-0000000000e1', 'e0000000-0000-4000-8000-0000000000e2',
       '123456', now(), now() + interval '1 hour') $$,
  '23514',
  'new row for relation "video_meetings" violates check constraint "video_meetings_meeting_id_format"',
  'meeting_id with 17 characters is rejected'
);

-- passcode: exactly 6 digits
select throws_ok(
  $$ insert into public.video_meetings
       (meeting_id, booking_id, tutor_id, student_id, passcode, scheduled_start, scheduled_end)
     values ('MID-PGTAPCHECKS00002', 'pgtap-constraints-2',
       'e0000000-0000-4000-8000-0000000000e1', 'e0000000-0000-4000-8000-0000000000e2',
       '12345', now(), now() + interval '1 hour') $$,
  '23514',
  'new row for relation "video_meetings" violates check constraint "video_meetings_passcode_format"',
  'a 5-digit passcode is rejected'
);
select throws_ok(
  $$ insert into public.video_meetings
       (meeting_id, booking_id, tutor_id, student_id, passcode, scheduled_start, scheduled_end)
     values ('MID-PGTAPCHECKS00002', 'pgtap-constraints-2',
       'e0000000-0000-4000-8000-0000000000e1', 'e0000000-0000-4000-8000-0000000000e2',
       '1234567', now(), now() + interval '1 hour') $$,
  '23514',
  'new row for relation "video_meetings" violates check constraint "video_meetings_passcode_format"',
  'a 7-digit passcode is rejected'
);
select throws_ok(
  $$ insert into public.video_meetings
       (meeting_id, booking_id, tutor_id, student_id, passcode, scheduled_start, scheduled_end)
     values ('MID-PGTAPCHECKS00002', 'pgtap-constraints-2',
       'e0000000-0000-4000-8000-0000000000e1', 'e0000000-0000-4000-8000-0000000000e2',
       '12345a', now(), now() + interval '1 hour') $$,
  '23514',
  'new row for relation "video_meetings" violates check constraint "video_meetings_passcode_format"',
  'a passcode with a letter is rejected'
);

-- status: pending | active | completed | cancelled
select throws_ok(
  $$ insert into public.video_meetings
       (meeting_id, booking_id, tutor_id, student_id, passcode, status,
        scheduled_start, scheduled_end)
     values ('MID-PGTAPCHECKS00002', 'pgtap-constraints-2',
       'e0000000-0000-4000-8000-0000000000e1', 'e0000000-0000-4000-8000-0000000000e2',
       '123456', 'started', now(), now() + interval '1 hour') $$,
  '23514',
  'new row for relation "video_meetings" violates check constraint "video_meetings_status_values"',
  'an unknown status is rejected on insert'
);
select throws_ok(
  $$ update public.video_meetings set status = 'ACTIVE'
     where meeting_id = 'MID-PGTAPCHECKS00001' $$,
  '23514',
  'new row for relation "video_meetings" violates check constraint "video_meetings_status_values"',
  'an unknown status is rejected on update'
);

-- uniqueness: one meeting per booking, meeting ids unique
select throws_ok(
  $$ insert into public.video_meetings
       (meeting_id, booking_id, tutor_id, student_id, passcode, scheduled_start, scheduled_end)
     values ('MID-PGTAPCHECKS00002', 'pgtap-constraints-1',
       'e0000000-0000-4000-8000-0000000000e1', 'e0000000-0000-4000-8000-0000000000e2',
       '123456', now(), now() + interval '1 hour') $$,
  '23505',
  'duplicate key value violates unique constraint "video_meetings_booking_id_key"',
  'a second meeting for the same booking_id is rejected'
);
select throws_ok(
  $$ insert into public.video_meetings
       (meeting_id, booking_id, tutor_id, student_id, passcode, scheduled_start, scheduled_end)
     values ('MID-PGTAPCHECKS00001', 'pgtap-constraints-2',
       'e0000000-0000-4000-8000-0000000000e1', 'e0000000-0000-4000-8000-0000000000e2',
       '123456', now(), now() + interval '1 hour') $$,
  '23505',
  'duplicate key value violates unique constraint "video_meetings_meeting_id_key"',
  'a duplicate meeting_id is rejected'
);

-- times and people
select throws_ok(
  $$ insert into public.video_meetings
       (meeting_id, booking_id, tutor_id, student_id, passcode, scheduled_start, scheduled_end)
     values ('MID-PGTAPCHECKS00002', 'pgtap-constraints-2',
       'e0000000-0000-4000-8000-0000000000e1', 'e0000000-0000-4000-8000-0000000000e2',
       '123456', now(), now() - interval '1 minute') $$,
  '23514',
  'new row for relation "video_meetings" violates check constraint "video_meetings_times"',
  'scheduled_end before scheduled_start is rejected'
);
select throws_ok(
  $$ insert into public.video_meetings
       (meeting_id, booking_id, tutor_id, student_id, passcode, scheduled_start, scheduled_end)
     values ('MID-PGTAPCHECKS00002', 'pgtap-constraints-2',
       'e0000000-0000-4000-8000-0000000000e1', 'e0000000-0000-4000-8000-0000000000e2',
       '123456', now(), now()) $$,
  '23514',
  'new row for relation "video_meetings" violates check constraint "video_meetings_times"',
  'a zero-length meeting is rejected'
);
select throws_ok(
  $$ insert into public.video_meetings
       (meeting_id, booking_id, tutor_id, student_id, passcode, scheduled_start, scheduled_end)
     values ('MID-PGTAPCHECKS00002', 'pgtap-constraints-2',
       'e0000000-0000-4000-8000-0000000000e1', 'e0000000-0000-4000-8000-0000000000e1',
       '123456', now(), now() + interval '1 hour') $$,
  '23514',
  'new row for relation "video_meetings" violates check constraint "video_meetings_distinct_people"',
  'tutor and student must be different users'
);

-- updated_at is maintained by the trigger
select lives_ok(
  $$ update public.video_meetings set status = 'active', started_at = now()
     where meeting_id = 'MID-PGTAPCHECKS00001' $$,
  'a valid status change is accepted'
);
select is(
  (select updated_at from public.video_meetings where meeting_id = 'MID-PGTAPCHECKS00001'),
  now(), 'updated_at is set by the trigger on update'
);

-- participants: a session belongs to a meeting of the participant service's own projection
insert into public.participant_meetings
  (meeting_id, tutor_id, student_id, status, scheduled_start, scheduled_end, source_updated_at, meeting)
values ('MID-PGTAPCHECKS00001', 'e0000000-0000-4000-8000-0000000000e1', 'e0000000-0000-4000-8000-0000000000e2',
  'pending', now(), now() + interval '1 hour', now(), '{}');
select lives_ok(
  $$ insert into public.video_participants (meeting_id, user_id, user_type, session_id)
     values ('MID-PGTAPCHECKS00001', 'e0000000-0000-4000-8000-0000000000e1', 'tutor',
       'pgtap-constraints-s1') $$,
  'a valid session is accepted'
);
select throws_ok(
  $$ insert into public.video_participants (meeting_id, user_id, user_type, session_id)
     values ('MID-PGTAPNOSUCHMEET1', 'e0000000-0000-4000-8000-0000000000e1', 'tutor',
       'pgtap-constraints-s2') $$,
  '23503', null,
  'a session of an unknown meeting is rejected'
);
select throws_ok(
  $$ insert into public.video_participants (meeting_id, user_id, user_type, session_id)
     values ('MID-PGTAPCHECKS00001', 'e0000000-0000-4000-8000-0000000000e1', 'admin',
       'pgtap-constraints-s2') $$,
  '23514',
  'new row for relation "video_participants" violates check constraint "video_participants_user_type_values"',
  'an unknown user_type is rejected'
);
select throws_ok(
  $$ insert into public.video_participants (meeting_id, user_id, user_type, session_id)
     values ('MID-PGTAPCHECKS00001', 'e0000000-0000-4000-8000-0000000000e1', 'tutor',
       'pgtap-constraints-s1') $$,
  '23505',
  'duplicate key value violates unique constraint "video_participants_session_id_key"',
  'a duplicate session_id is rejected'
);
select throws_ok(
  $$ update public.video_participants set left_at = now()
     where session_id = 'pgtap-constraints-s1' $$,
  '23514',
  'new row for relation "video_participants" violates check constraint "video_participants_left_consistent"',
  'left_at without a left_reason is rejected'
);
select throws_ok(
  $$ update public.video_participants set left_at = now(), left_reason = 'kicked'
     where session_id = 'pgtap-constraints-s1' $$,
  '23514',
  'new row for relation "video_participants" violates check constraint "video_participants_left_reason_values"',
  'an unknown left_reason is rejected'
);

reset role;

select * from finish();
rollback;
