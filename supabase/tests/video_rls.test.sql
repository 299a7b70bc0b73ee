-- RLS matrix for video_meetings / video_participants / video_passcode_failures.
--
-- Users are simulated exactly as Supabase's API does it, inside the transaction:
--   set local role authenticated;
--   select set_config('request.jwt.claims', '{"sub":"<uuid>","role":"authenticated"}', true);
-- (wrapped in diag() so the call shows up as a TAP comment instead of a stray line).
-- System work (seeding, checking what really changed) runs as service_role, which is what
-- the services use for it and which can read and write everything both on Supabase and on
-- the local bootstrap, whether or not the connecting role is a superuser.
-- Everything is rolled back at the end.

begin;
create extension if not exists pgtap;

select plan(60);

-- ---------------------------------------------------------------------------------------
-- Fixtures
--   meeting A (booking pgtap-rls-a): tutor_a + student_a
--   meeting B (booking pgtap-rls-b): tutor_b + student_b
--   stranger: in no meeting
-- ---------------------------------------------------------------------------------------
set local role service_role;

insert into public.video_meetings
  (meeting_id, booking_id, tutor_id, student_id, passcode, status, scheduled_start, scheduled_end)
values
  ('MID-PGTAPRLSAAAAAAAA', 'pgtap-rls-a',
   'a0000000-0000-4000-8000-0000000000a1', 'a0000000-0000-4000-8000-0000000000a2',
   '123456', 'active', now() - interval '10 minutes', now() + interval '50 minutes'),
  ('MID-PGTAPRLSBBBBBBBB', 'pgtap-rls-b',
   'b0000000-0000-4000-8000-0000000000b1', 'b0000000-0000-4000-8000-0000000000b2',
   '654321', 'pending', now() + interval '1 day', now() + interval '1 day 1 hour');

-- The participant service's projection of the same two meetings (sessions reference it).
insert into public.participant_meetings
  (meeting_id, tutor_id, student_id, status, scheduled_start, scheduled_end, source_updated_at, meeting)
select meeting_id, tutor_id, student_id, status, scheduled_start, scheduled_end, updated_at, '{}'
from public.video_meetings where meeting_id like 'MID-PGTAPRLS%';

insert into public.video_participants
  (id, meeting_id, user_id, user_type, session_id, left_at, left_reason)
values
  -- tutor A, live
  ('d0000000-0000-4000-8000-000000000001', 'MID-PGTAPRLSAAAAAAAA',
   'a0000000-0000-4000-8000-0000000000a1', 'tutor', 'pgtap-a-tutor-1', null, null),
  -- student A, live
  ('d0000000-0000-4000-8000-000000000002', 'MID-PGTAPRLSAAAAAAAA',
   'a0000000-0000-4000-8000-0000000000a2', 'student', 'pgtap-a-student-1', null, null),
  -- student A, an earlier session that has left
  ('d0000000-0000-4000-8000-000000000003', 'MID-PGTAPRLSAAAAAAAA',
   'a0000000-0000-4000-8000-0000000000a2', 'student', 'pgtap-a-student-0',
   now() - interval '5 minutes', 'timeout'),
  -- tutor B, live (in meeting B)
  ('d0000000-0000-4000-8000-000000000004', 'MID-PGTAPRLSBBBBBBBB',
   'b0000000-0000-4000-8000-0000000000b1', 'tutor', 'pgtap-b-tutor-1', null, null);

insert into public.video_passcode_failures (meeting_id, user_id, client_key, failures)
values ('MID-PGTAPRLSAAAAAAAA', 'a0000000-0000-4000-8000-0000000000a2', 'pgtap-client', 2);

reset role;

-- ---------------------------------------------------------------------------------------
-- Reads: tutor A and student A see meeting A and all of its sessions, nothing else
-- ---------------------------------------------------------------------------------------
set local role authenticated;
select diag('as tutor A: ' || set_config('request.jwt.claims',
  '{"sub":"a0000000-0000-4000-8000-0000000000a1","role":"authenticated"}', true));

select results_eq(
  $$ select meeting_id from public.video_meetings order by meeting_id $$,
  array['MID-PGTAPRLSAAAAAAAA'],
  'tutor sees their meeting and only it'
);
select results_eq(
  $$ select session_id from public.video_participants order by session_id $$,
  array['pgtap-a-student-0', 'pgtap-a-student-1', 'pgtap-a-tutor-1'],
  'tutor sees every session of their meeting, their own and the student''s'
);
select is(
  (select status from public.video_meetings where meeting_id = 'MID-PGTAPRLSAAAAAAAA'),
  'active',
  'tutor reads the columns of their meeting'
);
select throws_ok(
  $$ select passcode from public.video_meetings where meeting_id = 'MID-PGTAPRLSAAAAAAAA' $$,
  '42501', null,
  'tutor cannot read the passcode of their own meeting through the Data API'
);
select throws_ok(
  $$ select * from public.video_meetings $$,
  '42501', null,
  'select * as a user is refused: it would include the passcode'
);
select throws_ok(
  $$ select failures from public.video_passcode_failures $$,
  '42501', null,
  'tutor cannot read the lockout counters'
);
select is(
  (select count(*)::int from information_schema.column_privileges
   where table_schema = 'public' and table_name = 'video_meetings' and grantee = 'authenticated'
     and privilege_type = 'SELECT' and column_name = 'passcode'),
  0,
  'authenticated holds no select on the passcode column'
);

set local role authenticated;
select diag('as student A: ' || set_config('request.jwt.claims',
  '{"sub":"a0000000-0000-4000-8000-0000000000a2","role":"authenticated"}', true));

select results_eq(
  $$ select meeting_id from public.video_meetings order by meeting_id $$,
  array['MID-PGTAPRLSAAAAAAAA'],
  'student sees their meeting and only it'
);
select results_eq(
  $$ select session_id from public.video_participants order by session_id $$,
  array['pgtap-a-student-0', 'pgtap-a-student-1', 'pgtap-a-tutor-1'],
  'student sees every session of their meeting, their own and the tutor''s'
);

-- ---------------------------------------------------------------------------------------
-- Reads: a stranger, the parties of another booking, no user at all, anon
-- ---------------------------------------------------------------------------------------
set local role authenticated;
select diag('as a stranger: ' || set_config('request.jwt.claims',
  '{"sub":"c0000000-0000-4000-8000-0000000000c1","role":"authenticated"}', true));

select is_empty($$ select 1 from public.video_meetings $$, 'stranger sees no meeting');
select is_empty($$ select 1 from public.video_participants $$, 'stranger sees no session');
select is_empty(
  $$ select 1 from public.video_meetings where meeting_id = 'MID-PGTAPRLSAAAAAAAA' $$,
  'stranger cannot look a meeting up by its id'
);

set local role authenticated;
select diag('as tutor B: ' || set_config('request.jwt.claims',
  '{"sub":"b0000000-0000-4000-8000-0000000000b1","role":"authenticated"}', true));

select results_eq(
  $$ select meeting_id from public.video_meetings order by meeting_id $$,
  array['MID-PGTAPRLSBBBBBBBB'],
  'tutor of another booking sees only their own meeting'
);
select is_empty(
  $$ select 1 from public.video_meetings where meeting_id = 'MID-PGTAPRLSAAAAAAAA' $$,
  'tutor of another booking does not see meeting A'
);
select is_empty(
  $$ select 1 from public.video_participants where meeting_id = 'MID-PGTAPRLSAAAAAAAA' $$,
  'tutor of another booking sees no session of meeting A'
);
select results_eq(
  $$ select session_id from public.video_participants order by session_id $$,
  array['pgtap-b-tutor-1'],
  'tutor of another booking sees only the sessions of their own meeting'
);

set local role authenticated;
select diag('as student B: ' || set_config('request.jwt.claims',
  '{"sub":"b0000000-0000-4000-8000-0000000000b2","role":"authenticated"}', true));

select is_empty(
  $$ select 1 from public.video_meetings where meeting_id = 'MID-PGTAPRLSAAAAAAAA' $$,
  'student of another booking does not see meeting A'
);
select is_empty(
  $$ select 1 from public.video_participants where meeting_id = 'MID-PGTAPRLSAAAAAAAA' $$,
  'student of another booking sees no session of meeting A'
);

set local role authenticated;
select diag('as authenticated without a sub claim: ' || set_config('request.jwt.claims',
  '{"role":"authenticated"}', true));

select is_empty($$ select 1 from public.video_meetings $$, 'no sub claim: no meeting');
select is_empty($$ select 1 from public.video_participants $$, 'no sub claim: no session');

set local role anon;
select diag('as anon: ' || set_config('request.jwt.claims', '{"role":"anon"}', true));

select throws_ok(
  $$ select 1 from public.video_meetings $$, '42501', null, 'anon cannot read meetings'
);
select throws_ok(
  $$ select 1 from public.video_participants $$, '42501', null, 'anon cannot read sessions'
);
select throws_ok(
  $$ select 1 from public.video_passcode_failures $$, '42501', null,
  'anon cannot read passcode failures'
);

set local role anon;
select diag('as anon claiming tutor A''s sub: ' || set_config('request.jwt.claims',
  '{"sub":"a0000000-0000-4000-8000-0000000000a1","role":"anon"}', true));

select throws_ok(
  $$ select 1 from public.video_meetings $$, '42501', null,
  'anon with a user''s sub still cannot read meetings'
);

-- ---------------------------------------------------------------------------------------
-- Writes as authenticated (tutor A: the most privileged ordinary user of meeting A)
-- ---------------------------------------------------------------------------------------
set local role authenticated;
select diag('as tutor A: ' || set_config('request.jwt.claims',
  '{"sub":"a0000000-0000-4000-8000-0000000000a1","role":"authenticated"}', true));

select throws_ok(
  $$ insert into public.video_meetings
       (meeting_id, booking_id, tutor_id, student_id, passcode, scheduled_start, scheduled_end)
     values ('MID-PGTAPRLSCCCCCCCC', 'pgtap-rls-c',
       'a0000000-0000-4000-8000-0000000000a1', 'a0000000-0000-4000-8000-0000000000a2',
       '111111', now(), now() + interval '1 hour') $$,
  '42501', null, 'a user cannot create a meeting, not even their own'
);
select throws_ok(
  $$ update public.video_meetings set status = 'completed'
     where meeting_id = 'MID-PGTAPRLSAAAAAAAA' $$,
  '42501', null, 'a user cannot update their meeting'
);
select throws_ok(
  $$ update public.video_meetings set passcode = '000000'
     where meeting_id = 'MID-PGTAPRLSAAAAAAAA' $$,
  '42501', null, 'a user cannot change the passcode of their meeting'
);
select throws_ok(
  $$ delete from public.video_meetings where meeting_id = 'MID-PGTAPRLSAAAAAAAA' $$,
  '42501', null, 'a user cannot delete their meeting'
);
select throws_ok(
  $$ insert into public.video_participants (meeting_id, user_id, user_type, session_id)
     values ('MID-PGTAPRLSAAAAAAAA', 'a0000000-0000-4000-8000-0000000000a1', 'tutor',
       'pgtap-a-tutor-forged') $$,
  '42501', null, 'a user cannot insert a session, not even their own'
);
select throws_ok(
  $$ delete from public.video_participants where id = 'd0000000-0000-4000-8000-000000000001' $$,
  '42501', null, 'a user cannot delete their own session'
);
select throws_ok(
  $$ delete from public.video_participants where id = 'd0000000-0000-4000-8000-000000000002' $$,
  '42501', null, 'a user cannot delete another user''s session'
);
select throws_ok(
  $$ select 1 from public.video_passcode_failures $$, '42501', null,
  'a user cannot read passcode failures'
);
select throws_ok(
  $$ delete from public.video_passcode_failures $$, '42501', null,
  'a user cannot clear passcode failures'
);

-- Columns other than is_muted / camera_off of their own live row.
select throws_ok(
  $$ update public.video_participants set left_at = now(), left_reason = 'left'
     where id = 'd0000000-0000-4000-8000-000000000001' $$,
  '42501', null, 'a user cannot set left_at/left_reason of their own session'
);
select throws_ok(
  $$ update public.video_participants set user_id = 'c0000000-0000-4000-8000-0000000000c1'
     where id = 'd0000000-0000-4000-8000-000000000001' $$,
  '42501', null, 'a user cannot hand their session to another user'
);
select throws_ok(
  $$ update public.video_participants set meeting_id = 'MID-PGTAPRLSBBBBBBBB'
     where id = 'd0000000-0000-4000-8000-000000000001' $$,
  '42501', null, 'a user cannot move their session to another meeting'
);
select throws_ok(
  $$ update public.video_participants set user_type = 'student'
     where id = 'd0000000-0000-4000-8000-000000000001' $$,
  '42501', null, 'a user cannot change their user_type'
);
select throws_ok(
  $$ update public.video_participants set display_name = 'someone else', connected = true
     where id = 'd0000000-0000-4000-8000-000000000001' $$,
  '42501', null, 'a user cannot change display_name / presence columns'
);

-- Another user's row: the update matches nothing.
select is_empty(
  $$ update public.video_participants set is_muted = true, camera_off = true
     where id = 'd0000000-0000-4000-8000-000000000002' returning id $$,
  'tutor cannot mute the student''s session (no row updated)'
);
select is_empty(
  $$ update public.video_participants set is_muted = true
     where meeting_id = 'MID-PGTAPRLSAAAAAAAA' and user_id <> (select auth.uid())
     returning id $$,
  'tutor cannot mute anyone else in their meeting (no row updated)'
);

-- Their own live row: is_muted / camera_off can change.
select results_eq(
  $$ update public.video_participants set is_muted = true, camera_off = true
     where id = 'd0000000-0000-4000-8000-000000000001' returning is_muted, camera_off $$,
  $$ values (true, true) $$,
  'tutor can mute and turn off the camera of their own live session'
);
select results_eq(
  $$ update public.video_participants set camera_off = false
     where id = 'd0000000-0000-4000-8000-000000000001' returning is_muted, camera_off $$,
  $$ values (true, false) $$,
  'tutor can turn the camera back on, the mute state stays'
);

set local role authenticated;
select diag('as student A: ' || set_config('request.jwt.claims',
  '{"sub":"a0000000-0000-4000-8000-0000000000a2","role":"authenticated"}', true));

select is_empty(
  $$ update public.video_participants set is_muted = true
     where id = 'd0000000-0000-4000-8000-000000000003' returning id $$,
  'student cannot update their own session after it has left'
);
select is_empty(
  $$ update public.video_participants set is_muted = false
     where id = 'd0000000-0000-4000-8000-000000000001' returning id $$,
  'student cannot unmute the tutor (no row updated)'
);
select results_eq(
  $$ update public.video_participants set is_muted = true
     where id = 'd0000000-0000-4000-8000-000000000002' returning is_muted, camera_off $$,
  $$ values (true, false) $$,
  'student can mute their own live session'
);

set local role authenticated;
select diag('as a stranger: ' || set_config('request.jwt.claims',
  '{"sub":"c0000000-0000-4000-8000-0000000000c1","role":"authenticated"}', true));

select is_empty(
  $$ update public.video_participants set is_muted = true, camera_off = true returning id $$,
  'stranger updates no session at all'
);

-- ---------------------------------------------------------------------------------------
-- What really changed, checked as service_role
-- ---------------------------------------------------------------------------------------
set local role service_role;
select diag('as service_role: ' || set_config('request.jwt.claims', '{"role":"service_role"}', true));

select results_eq(
  $$ select session_id, is_muted, camera_off, left_at is null as live
     from public.video_participants
     where meeting_id in ('MID-PGTAPRLSAAAAAAAA', 'MID-PGTAPRLSBBBBBBBB')
     order by session_id $$,
  $$ values ('pgtap-a-student-0'::text, false, false, false),
            ('pgtap-a-student-1'::text, true,  false, true),
            ('pgtap-a-tutor-1'::text,   true,  false, true),
            ('pgtap-b-tutor-1'::text,   false, false, true) $$,
  'only the own-row mute/camera updates took effect'
);
select results_eq(
  $$ select meeting_id, status from public.video_meetings
     where meeting_id like 'MID-PGTAPRLS%' order by meeting_id $$,
  $$ values ('MID-PGTAPRLSAAAAAAAA'::text, 'active'::text),
            ('MID-PGTAPRLSBBBBBBBB'::text, 'pending'::text) $$,
  'no meeting was created, changed or deleted by a user'
);

-- ---------------------------------------------------------------------------------------
-- service_role sees and writes everything
-- ---------------------------------------------------------------------------------------
select is(
  (select count(*)::int from public.video_meetings where meeting_id like 'MID-PGTAPRLS%'),
  2, 'service_role sees every meeting'
);
select is(
  (select count(*)::int from public.video_participants where session_id like 'pgtap-%'),
  4, 'service_role sees every session'
);
select lives_ok(
  $$ insert into public.video_meetings
       (meeting_id, booking_id, tutor_id, student_id, passcode, scheduled_start, scheduled_end)
     values ('MID-PGTAPRLSCCCCCCCC', 'pgtap-rls-c',
       'c0000000-0000-4000-8000-0000000000c1', 'a0000000-0000-4000-8000-0000000000a2',
       '222222', now(), now() + interval '1 hour') $$,
  'service_role creates meetings'
);
select lives_ok(
  $$ insert into public.participant_meetings
       (meeting_id, tutor_id, student_id, status, scheduled_start, scheduled_end, source_updated_at, meeting)
     values ('MID-PGTAPRLSCCCCCCCC', 'c0000000-0000-4000-8000-0000000000c1', 'a0000000-0000-4000-8000-0000000000a2',
       'pending', now(), now() + interval '1 hour', now(), '{}') $$,
  'service_role projects meetings'
);
select lives_ok(
  $$ insert into public.video_participants (meeting_id, user_id, user_type, session_id)
     values ('MID-PGTAPRLSCCCCCCCC', 'c0000000-0000-4000-8000-0000000000c1', 'tutor',
       'pgtap-c-tutor-1') $$,
  'service_role creates sessions'
);
select results_eq(
  $$ with u as (
       update public.video_participants
       set left_at = now(), left_reason = 'ended', connected = false
       where meeting_id = 'MID-PGTAPRLSAAAAAAAA' and left_at is null
       returning session_id)
     select session_id from u order by session_id $$,
  $$ values ('pgtap-a-student-1'::text), ('pgtap-a-tutor-1'::text) $$,
  'service_role updates any column of any session'
);
select results_eq(
  $$ update public.video_meetings set status = 'completed', ended_at = now()
     where meeting_id = 'MID-PGTAPRLSAAAAAAAA' returning status $$,
  array['completed'],
  'service_role updates meetings'
);
select results_eq(
  $$ update public.video_passcode_failures set failures = failures + 1
     where meeting_id = 'MID-PGTAPRLSAAAAAAAA' returning failures $$,
  array[3],
  'service_role reads and writes passcode failures'
);
select results_eq(
  $$ delete from public.video_participants where session_id = 'pgtap-c-tutor-1'
     returning session_id $$,
  array['pgtap-c-tutor-1'],
  'service_role deletes sessions'
);
select results_eq(
  $$ delete from public.video_meetings where meeting_id = 'MID-PGTAPRLSBBBBBBBB'
     returning meeting_id $$,
  array['MID-PGTAPRLSBBBBBBBB'],
  'service_role deletes meetings'
);
select results_eq(
  $$ delete from public.participant_meetings where meeting_id = 'MID-PGTAPRLSBBBBBBBB'
     returning meeting_id $$,
  array['MID-PGTAPRLSBBBBBBBB'],
  'service_role deletes projected meetings'
);
select is_empty(
  $$ select 1 from public.video_participants where meeting_id = 'MID-PGTAPRLSBBBBBBBB' $$,
  'deleting the projected meeting deletes its sessions'
);

reset role;

select * from finish();
rollback;
