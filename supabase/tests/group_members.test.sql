-- Group lessons (issue 15): every student of a group reads what the tutor and the first student
-- read — the meeting, its members, its sessions, chat, board, removals — and nobody else does;
-- the media service's rooms and tokens are read by no user at all.

begin;
create extension if not exists pgtap;

select plan(23);

-- Fixtures: meeting G, a group of a tutor and three students (sfu, recorded); meeting H, a 1:1
-- lesson of a tutor and a student, one of whom (student g2) is also in group G.
set local role service_role;

insert into public.video_meetings
  (meeting_id, booking_id, tutor_id, student_id, student_ids, media_mode, record, passcode, status, scheduled_start, scheduled_end)
values
  ('MID-PGTAPGROUPGGGGGG', 'pgtap-group-g',
   'e0000000-0000-4000-8000-0000000000e1', 'e0000000-0000-4000-8000-0000000000e2',
   array['e0000000-0000-4000-8000-0000000000e2', 'e0000000-0000-4000-8000-0000000000e3', 'e0000000-0000-4000-8000-0000000000e4']::uuid[],
   'sfu', true, '123456', 'active', now() - interval '10 minutes', now() + interval '50 minutes');
insert into public.video_meetings
  (meeting_id, booking_id, tutor_id, student_id, passcode, status, scheduled_start, scheduled_end)
values
  ('MID-PGTAPGROUPHHHHHH', 'pgtap-group-h',
   'f0000000-0000-4000-8000-0000000000f1', 'e0000000-0000-4000-8000-0000000000e3',
   '654321', 'pending', now() + interval '1 day', now() + interval '1 day 1 hour');

insert into public.participant_meetings
  (meeting_id, tutor_id, student_id, status, scheduled_start, scheduled_end, source_updated_at, meeting)
select meeting_id, tutor_id, student_id, status, scheduled_start, scheduled_end, updated_at,
  jsonb_build_object('meetingId', meeting_id, 'studentIds', to_jsonb(student_ids::text[]))
from public.video_meetings where meeting_id = 'MID-PGTAPGROUPGGGGGG';
-- A snapshot of before group lessons: no studentIds.
insert into public.participant_meetings
  (meeting_id, tutor_id, student_id, status, scheduled_start, scheduled_end, source_updated_at, meeting)
select meeting_id, tutor_id, student_id, status, scheduled_start, scheduled_end, updated_at, '{}'
from public.video_meetings where meeting_id = 'MID-PGTAPGROUPHHHHHH';

insert into public.video_participants (meeting_id, user_id, user_type, session_id)
values
  ('MID-PGTAPGROUPGGGGGG', 'e0000000-0000-4000-8000-0000000000e1', 'tutor', 'pgtap-g-tutor'),
  ('MID-PGTAPGROUPGGGGGG', 'e0000000-0000-4000-8000-0000000000e4', 'student', 'pgtap-g-student-3');
insert into public.video_chat_messages (meeting_id, session_id, user_id, user_type, client_message_id, body)
values ('MID-PGTAPGROUPGGGGGG', 'pgtap-g-tutor', 'e0000000-0000-4000-8000-0000000000e1', 'tutor', 'pgtap-g-chat-1', 'hello class');

insert into public.media_rooms (meeting_id, node, room_secret, record)
values ('MID-PGTAPGROUPGGGGGG', 'janus-a', 'room-secret', true);
insert into public.media_tokens (session_id, meeting_id, user_id, token)
values ('pgtap-g-student-3', 'MID-PGTAPGROUPGGGGGG', 'e0000000-0000-4000-8000-0000000000e4', 'join-token');

-- The members table follows the meeting row.
select results_eq(
  $$ select user_id::text || ':' || user_type from public.video_meeting_members where meeting_id = 'MID-PGTAPGROUPGGGGGG' order by user_id $$,
  array['e0000000-0000-4000-8000-0000000000e1:tutor', 'e0000000-0000-4000-8000-0000000000e2:student',
        'e0000000-0000-4000-8000-0000000000e3:student', 'e0000000-0000-4000-8000-0000000000e4:student'],
  'the members are the tutor and every student'
);
select is(
  (select array_to_string(student_ids, ',') from public.video_meetings where meeting_id = 'MID-PGTAPGROUPHHHHHH'),
  'e0000000-0000-4000-8000-0000000000e3',
  'a meeting created without student_ids has its one student'
);
update public.video_meetings
  set student_ids = array['e0000000-0000-4000-8000-0000000000e2', 'e0000000-0000-4000-8000-0000000000e4']::uuid[]
  where meeting_id = 'MID-PGTAPGROUPGGGGGG';
select is(
  (select count(*)::int from public.video_meeting_members where meeting_id = 'MID-PGTAPGROUPGGGGGG'
     and user_id = 'e0000000-0000-4000-8000-0000000000e3'),
  0, 'a student taken off the group is no longer a member');
update public.video_meetings
  set student_ids = array['e0000000-0000-4000-8000-0000000000e2', 'e0000000-0000-4000-8000-0000000000e3', 'e0000000-0000-4000-8000-0000000000e4']::uuid[]
  where meeting_id = 'MID-PGTAPGROUPGGGGGG';
select is(
  (select array_to_string(student_ids, ',') from public.participant_meetings where meeting_id = 'MID-PGTAPGROUPGGGGGG'),
  'e0000000-0000-4000-8000-0000000000e2,e0000000-0000-4000-8000-0000000000e3,e0000000-0000-4000-8000-0000000000e4',
  'the projection takes the students from the snapshot'
);
select is(
  (select array_to_string(student_ids, ',') from public.participant_meetings where meeting_id = 'MID-PGTAPGROUPHHHHHH'),
  'e0000000-0000-4000-8000-0000000000e3',
  'a snapshot without studentIds projects its one student'
);

select throws_ok(
  $$ insert into public.video_meetings (meeting_id, booking_id, tutor_id, student_id, student_ids, passcode, scheduled_start, scheduled_end)
     values ('MID-PGTAPGROUPXXXXXX', 'pgtap-group-x', 'e0000000-0000-4000-8000-0000000000e1', 'e0000000-0000-4000-8000-0000000000e2',
             array['e0000000-0000-4000-8000-0000000000e2', 'e0000000-0000-4000-8000-0000000000e1']::uuid[], '111111', now(), now() + interval '1 hour') $$,
  '23514', null, 'the tutor cannot also be a student');
select throws_ok(
  $$ insert into public.video_meetings (meeting_id, booking_id, tutor_id, student_id, student_ids, passcode, scheduled_start, scheduled_end)
     values ('MID-PGTAPGROUPYYYYYY', 'pgtap-group-y', 'e0000000-0000-4000-8000-0000000000e1', 'e0000000-0000-4000-8000-0000000000e2',
             array['e0000000-0000-4000-8000-0000000000e3']::uuid[], '111111', now(), now() + interval '1 hour') $$,
  '23514', null, 'student_id must be the first of the students');
select throws_ok(
  $$ update public.video_meetings set media_mode = 'mcu' where meeting_id = 'MID-PGTAPGROUPGGGGGG' $$,
  '23514', null, 'media_mode is p2p or sfu');

-- The third student of the group: reads what the first does.
set local role authenticated;
select diag('as student g3: ' || set_config('request.jwt.claims',
  '{"sub":"e0000000-0000-4000-8000-0000000000e4","role":"authenticated"}', true));
select results_eq($$ select meeting_id from public.video_meetings order by 1 $$, array['MID-PGTAPGROUPGGGGGG'], 'a group student sees the group meeting');
select results_eq(
  $$ select media_mode || ':' || record::text || ':' || cardinality(student_ids)::text from public.video_meetings $$,
  array['sfu:true:3'], 'and reads its media mode, recording flag and students');
select is((select count(*)::int from public.video_meeting_members), 4, 'and its members');
select results_eq($$ select session_id from public.video_participants order by 1 $$, array['pgtap-g-student-3', 'pgtap-g-tutor'], 'and its sessions');
select results_eq($$ select body from public.video_chat_messages $$, array['hello class'], 'and its chat');
select is((select count(*)::int from public.participant_meetings), 1, 'and its projection row');
select throws_ok($$ select room_secret from public.media_rooms $$, '42501', null, 'but not the room secret');
select throws_ok($$ select token from public.media_tokens $$, '42501', null, 'nor any join token, even its own');
select throws_ok($$ select passcode from public.video_meetings $$, '42501', null, 'nor the passcode');

-- Student g2 is in both: sees both meetings, and the members of each.
select diag('as student g2: ' || set_config('request.jwt.claims',
  '{"sub":"e0000000-0000-4000-8000-0000000000e3","role":"authenticated"}', true));
select results_eq($$ select meeting_id from public.video_meetings order by 1 $$,
  array['MID-PGTAPGROUPGGGGGG', 'MID-PGTAPGROUPHHHHHH'], 'a student of two lessons sees both');
select results_eq($$ select meeting_id from public.participant_meetings order by 1 $$,
  array['MID-PGTAPGROUPGGGGGG', 'MID-PGTAPGROUPHHHHHH'], 'in the projection too');

-- The tutor of the 1:1 lesson: not the group's.
select diag('as tutor H: ' || set_config('request.jwt.claims',
  '{"sub":"f0000000-0000-4000-8000-0000000000f1","role":"authenticated"}', true));
select results_eq($$ select meeting_id from public.video_meetings $$, array['MID-PGTAPGROUPHHHHHH'], 'another tutor sees only their lesson');
select is((select count(*)::int from public.video_meeting_members where meeting_id = 'MID-PGTAPGROUPGGGGGG'), 0, 'and none of the group''s members');
select is_empty($$ select 1 from public.video_participants $$, 'nor its sessions');
select is_empty($$ select 1 from public.video_chat_messages $$, 'nor its chat');

reset role;
select * from finish();
rollback;
