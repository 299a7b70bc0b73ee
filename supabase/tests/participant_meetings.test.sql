-- participant_meetings: the participant service's own projection of meetings (one owner per
-- table). RLS enabled and forced, read-only to a meeting's own tutor and student, nothing for
-- anon; the participant tables' policies and foreign keys no longer reach into video_meetings.
-- Users are simulated as in video_rls.test.sql. Everything is rolled back.

begin;
create extension if not exists pgtap;

select plan(28);

-- ---------------------------------------------------------------------------------------
-- Shape, RLS and grants
-- ---------------------------------------------------------------------------------------
select has_table('public', 'participant_meetings', 'participant_meetings exists');
select col_is_pk('public', 'participant_meetings', 'meeting_id', 'one row per meeting');
select ok(
  (select relrowsecurity and relforcerowsecurity from pg_class where oid = 'public.participant_meetings'::regclass),
  'RLS is enabled and forced on participant_meetings'
);
select ok(
  not has_table_privilege('anon', 'public.participant_meetings', 'select, insert, update, delete'),
  'anon has no privilege on participant_meetings'
);
select ok(
  has_table_privilege('authenticated', 'public.participant_meetings', 'select')
    and not has_table_privilege('authenticated', 'public.participant_meetings', 'insert, update, delete'),
  'authenticated may only read participant_meetings'
);
-- The join and projection functions are the participant service's, not the Data API's.
select ok(
  not has_function_privilege('anon', 'public.participant_join(text, uuid, uuid, text, timestamptz, timestamptz, timestamptz, jsonb, uuid, text, text, text, text, timestamptz, boolean, boolean, text, integer)', 'execute'),
  'anon cannot call participant_join'
);
select ok(
  not has_function_privilege('authenticated', 'public.participant_join(text, uuid, uuid, text, timestamptz, timestamptz, timestamptz, jsonb, uuid, text, text, text, text, timestamptz, boolean, boolean, text, integer)', 'execute'),
  'authenticated cannot call participant_join (a user cannot open a session past the passcode check)'
);
select ok(
  not has_function_privilege('authenticated', 'public.participant_apply_meeting(text, uuid, uuid, text, timestamptz, timestamptz, timestamptz, jsonb)', 'execute'),
  'authenticated cannot call participant_apply_meeting (a user cannot rewrite a meeting snapshot)'
);
select ok(
  not has_function_privilege('authenticated', 'public.participant_resume(text, text, uuid, text, timestamptz, text)', 'execute'),
  'authenticated cannot call participant_resume'
);
select ok(
  has_function_privilege('service_role', 'public.participant_join(text, uuid, uuid, text, timestamptz, timestamptz, timestamptz, jsonb, uuid, text, text, text, text, timestamptz, boolean, boolean, text, integer)', 'execute'),
  'service_role calls participant_join'
);
select fk_ok(
  'public', 'video_participants', 'meeting_id',
  'public', 'participant_meetings', 'meeting_id',
  'sessions reference the participant service''s meetings'
);
select is_empty(
  $$ select 1 from pg_constraint
     where conrelid = 'public.video_participants'::regclass and confrelid = 'public.video_meetings'::regclass $$,
  'no foreign key from video_participants into the meeting service''s table'
);
select is_empty(
  $$ select policyname from pg_policies
     where tablename in ('participant_meetings', 'video_participants')
       and (coalesce(qual, '') || coalesce(with_check, '')) like '%video_meetings%' $$,
  'no policy of a participant table reads video_meetings'
);
select has_column('public', 'video_meetings', 'no_show_checked_at', 'the meeting service records its no-show decision');

-- ---------------------------------------------------------------------------------------
-- Constraints
-- ---------------------------------------------------------------------------------------
set local role service_role;

select lives_ok(
  $$ insert into public.participant_meetings
       (meeting_id, tutor_id, student_id, status, scheduled_start, scheduled_end, source_updated_at, meeting)
     values ('MID-PGTAPPROJAAAAAAA', 'f0000000-0000-4000-8000-0000000000f1', 'f0000000-0000-4000-8000-0000000000f2',
       'active', now() - interval '5 minutes', now() + interval '55 minutes', now(), '{"meetingId": "MID-PGTAPPROJAAAAAAA"}') $$,
  'service_role projects a meeting'
);
select throws_ok(
  $$ insert into public.participant_meetings
       (meeting_id, tutor_id, student_id, status, scheduled_start, scheduled_end, source_updated_at, meeting)
     values ('MID-PGTAPPROJBBBBBBB', 'f0000000-0000-4000-8000-0000000000f1', 'f0000000-0000-4000-8000-0000000000f2',
       'open', now(), now() + interval '1 hour', now(), '{}') $$,
  '23514',
  'new row for relation "participant_meetings" violates check constraint "participant_meetings_status_values"',
  'an unknown status is refused'
);
select throws_ok(
  $$ insert into public.participant_meetings
       (meeting_id, tutor_id, student_id, status, scheduled_start, scheduled_end, source_updated_at, meeting)
     values ('MID-pgtap', 'f0000000-0000-4000-8000-0000000000f1', 'f0000000-0000-4000-8000-0000000000f2',
       'pending', now(), now() + interval '1 hour', now(), '{}') $$,
  '23514',
  'new row for relation "participant_meetings" violates check constraint "participant_meetings_meeting_id_format"',
  'a malformed meeting id is refused'
);
select throws_ok(
  $$ insert into public.participant_meetings
       (meeting_id, tutor_id, student_id, status, scheduled_start, scheduled_end, source_updated_at, meeting)
     values ('MID-PGTAPPROJCCCCCCC', 'f0000000-0000-4000-8000-0000000000f1', 'f0000000-0000-4000-8000-0000000000f2',
       'pending', now(), now() - interval '1 hour', now(), '{}') $$,
  '23514',
  'new row for relation "participant_meetings" violates check constraint "participant_meetings_times"',
  'a meeting that ends before it starts is refused'
);
-- A session of a meeting the meeting service's table does not have: the projection is enough.
select lives_ok(
  $$ insert into public.video_participants (meeting_id, user_id, user_type, session_id)
     values ('MID-PGTAPPROJAAAAAAA', 'f0000000-0000-4000-8000-0000000000f2', 'student', 'pgtap-proj-student') $$,
  'a session needs the projected meeting only'
);
select throws_ok(
  $$ insert into public.video_participants (meeting_id, user_id, user_type, session_id)
     values ('MID-PGTAPPROJZZZZZZZ', 'f0000000-0000-4000-8000-0000000000f2', 'student', 'pgtap-proj-orphan') $$,
  '23503', null,
  'a session of a meeting the projection does not have is refused'
);
reset role;

-- ---------------------------------------------------------------------------------------
-- Reads through RLS
-- ---------------------------------------------------------------------------------------
set local role authenticated;
select diag(set_config('request.jwt.claims', '{"sub":"f0000000-0000-4000-8000-0000000000f1","role":"authenticated"}', true));
select results_eq(
  $$ select meeting_id, status from public.participant_meetings $$,
  $$ values ('MID-PGTAPPROJAAAAAAA'::text, 'active'::text) $$,
  'the tutor reads their projected meeting'
);
select results_eq(
  $$ select session_id from public.video_participants where meeting_id = 'MID-PGTAPPROJAAAAAAA' $$,
  array['pgtap-proj-student'],
  'the tutor reads its sessions, decided on the projection alone'
);
select throws_ok(
  $$ update public.participant_meetings set status = 'completed' $$,
  '42501', null, 'a user cannot change a projected meeting'
);
select throws_ok(
  $$ insert into public.participant_meetings
       (meeting_id, tutor_id, student_id, status, scheduled_start, scheduled_end, source_updated_at, meeting)
     values ('MID-PGTAPPROJDDDDDDD', 'f0000000-0000-4000-8000-0000000000f1', 'f0000000-0000-4000-8000-0000000000f2',
       'pending', now(), now() + interval '1 hour', now(), '{}') $$,
  '42501', null, 'a user cannot project a meeting'
);

select diag(set_config('request.jwt.claims', '{"sub":"f0000000-0000-4000-8000-0000000000f2","role":"authenticated"}', true));
select is(
  (select count(*)::int from public.participant_meetings where meeting_id = 'MID-PGTAPPROJAAAAAAA'),
  1, 'the student reads it too'
);

select diag(set_config('request.jwt.claims', '{"sub":"f0000000-0000-4000-8000-0000000000f9","role":"authenticated"}', true));
select is_empty($$ select 1 from public.participant_meetings $$, 'a stranger reads no projected meeting');
select is_empty(
  $$ select 1 from public.video_participants where meeting_id = 'MID-PGTAPPROJAAAAAAA' $$,
  'a stranger reads none of its sessions'
);
reset role;

set local role anon;
select throws_ok($$ select 1 from public.participant_meetings $$, '42501', null, 'anon cannot read projected meetings');
reset role;

select * from finish();
rollback;
