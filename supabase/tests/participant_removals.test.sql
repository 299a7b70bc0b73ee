-- participant_removals (tutor controls): RLS enabled and forced, readable only by the meeting's
-- own tutor and student, written only by the participant service; and participant_join /
-- participant_resume refuse a removed user (LC005) until the removal is lifted.
-- Users are simulated as in video_rls.test.sql. Everything is rolled back.

begin;
create extension if not exists pgtap;

select plan(14);

select has_table('public', 'participant_removals', 'participant_removals exists');
select ok(
  (select relrowsecurity and relforcerowsecurity from pg_class where oid = 'public.participant_removals'::regclass),
  'RLS is enabled and forced on participant_removals'
);
select ok(
  not has_table_privilege('anon', 'public.participant_removals', 'select, insert, update, delete'),
  'anon has no privilege on participant_removals'
);
select ok(
  has_table_privilege('authenticated', 'public.participant_removals', 'select')
    and not has_table_privilege('authenticated', 'public.participant_removals', 'insert, update, delete'),
  'authenticated may only read participant_removals'
);
select ok(
  not has_column_privilege('authenticated', 'public.video_participants', 'unmute_asked_at', 'update'),
  'a user cannot reset the ask-to-unmute rate limit'
);

set local role service_role;
-- Meeting A (tutor a1, student a2) through participant_join, as the service records it; meeting B.
select lives_ok(
  $$ select * from participant_join('MID-PGTAPREMOVEAAAAA', 'd0000000-0000-4000-8000-0000000000a1', 'd0000000-0000-4000-8000-0000000000a2',
       'active', now() - interval '5 minutes', now() + interval '55 minutes', now(), '{}',
       'd0000000-0000-4000-8000-0000000000a2', 'student', 'Sam', 'pgtap-remove-s1', 'hash-s1', now(), false, false, null, 4) $$,
  'the student joins meeting A'
);
insert into public.participant_meetings
  (meeting_id, tutor_id, student_id, status, scheduled_start, scheduled_end, source_updated_at, meeting)
values ('MID-PGTAPREMOVEBBBBB', 'd0000000-0000-4000-8000-0000000000b1', 'd0000000-0000-4000-8000-0000000000b2',
        'active', now() - interval '5 minutes', now() + interval '55 minutes', now(), '{}');
-- The service's removal: the bar and the closed session.
insert into public.participant_removals (meeting_id, user_id, session_id, removed_by, removed_at)
values ('MID-PGTAPREMOVEAAAAA', 'd0000000-0000-4000-8000-0000000000a2', 'pgtap-remove-s1', 'd0000000-0000-4000-8000-0000000000a1', now());
update public.video_participants set left_at = now(), left_reason = 'removed' where session_id = 'pgtap-remove-s1';
select throws_ok(
  $$ insert into public.participant_removals (meeting_id, user_id, session_id, removed_by, removed_at)
     values ('MID-PGTAPREMOVEAAAAA', 'd0000000-0000-4000-8000-0000000000a2', 'pgtap-remove-s1', 'd0000000-0000-4000-8000-0000000000a1', now()) $$,
  '23505', null,
  'one removal in force per user and meeting'
);
select throws_ok(
  $$ select * from participant_join('MID-PGTAPREMOVEAAAAA', 'd0000000-0000-4000-8000-0000000000a1', 'd0000000-0000-4000-8000-0000000000a2',
       'active', now() - interval '5 minutes', now() + interval '55 minutes', now(), '{}',
       'd0000000-0000-4000-8000-0000000000a2', 'student', 'Sam', 'pgtap-remove-s2', 'hash-s2', now(), false, false, null, 4) $$,
  'LC005', null,
  'a removed user cannot join afresh'
);
select throws_ok(
  $$ select * from participant_resume('pgtap-remove-s1', 'MID-PGTAPREMOVEAAAAA', 'd0000000-0000-4000-8000-0000000000a2', 'hash-s1', now(), null) $$,
  'LC005', null,
  'a removed session cannot be resumed, and says why'
);
select throws_ok(
  $$ select * from participant_resume('pgtap-remove-s1', 'MID-PGTAPREMOVEAAAAA', 'd0000000-0000-4000-8000-0000000000a2', 'wrong-hash', now(), null) $$,
  'LC004', null,
  'a wrong resume token learns nothing about the removal'
);
update public.participant_removals set allowed_at = now(), allowed_by = 'd0000000-0000-4000-8000-0000000000a1'
where meeting_id = 'MID-PGTAPREMOVEAAAAA';
select lives_ok(
  $$ select * from participant_join('MID-PGTAPREMOVEAAAAA', 'd0000000-0000-4000-8000-0000000000a1', 'd0000000-0000-4000-8000-0000000000a2',
       'active', now() - interval '5 minutes', now() + interval '55 minutes', now(), '{}',
       'd0000000-0000-4000-8000-0000000000a2', 'student', 'Sam', 'pgtap-remove-s3', 'hash-s3', now(), false, false, null, 4) $$,
  'once the tutor allows it again, the user joins afresh'
);
reset role;

set local role authenticated;
select diag(set_config('request.jwt.claims', '{"sub":"d0000000-0000-4000-8000-0000000000a2","role":"authenticated"}', true));
select results_eq(
  $$ select session_id from public.participant_removals $$,
  array['pgtap-remove-s1'],
  'the removed student reads the removal of their own meeting'
);
select diag(set_config('request.jwt.claims', '{"sub":"d0000000-0000-4000-8000-0000000000b1","role":"authenticated"}', true));
select is_empty($$ select 1 from public.participant_removals $$, 'another meeting''s tutor reads nothing');
select throws_ok(
  $$ update public.participant_removals set allowed_at = now(), allowed_by = 'd0000000-0000-4000-8000-0000000000b1' $$,
  '42501', null, 'a user cannot lift a removal directly'
);
reset role;

select * from finish();
rollback;
