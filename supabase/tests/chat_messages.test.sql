-- video_chat_messages: RLS enabled and forced, readable only by the meeting's own tutor and
-- student (not a stranger, not another meeting's participant, not anon), written only by the
-- participant service; one row per (meeting, user, client message id); 2,000 characters at most.
-- Users are simulated as in video_rls.test.sql. Everything is rolled back.

begin;
create extension if not exists pgtap;

select plan(14);

select has_table('public', 'video_chat_messages', 'video_chat_messages exists');
select ok(
  (select relrowsecurity and relforcerowsecurity from pg_class where oid = 'public.video_chat_messages'::regclass),
  'RLS is enabled and forced on video_chat_messages'
);
select ok(
  not has_table_privilege('anon', 'public.video_chat_messages', 'select, insert, update, delete'),
  'anon has no privilege on video_chat_messages'
);
select ok(
  has_table_privilege('authenticated', 'public.video_chat_messages', 'select')
    and not has_table_privilege('authenticated', 'public.video_chat_messages', 'insert, update, delete'),
  'authenticated may only read video_chat_messages'
);

set local role service_role;
insert into public.participant_meetings
  (meeting_id, tutor_id, student_id, status, scheduled_start, scheduled_end, source_updated_at, meeting)
values
  ('MID-PGTAPCHATAAAAAAA', 'c0000000-0000-4000-8000-0000000000a1', 'c0000000-0000-4000-8000-0000000000a2',
   'active', now() - interval '5 minutes', now() + interval '55 minutes', now(), '{}'),
  ('MID-PGTAPCHATBBBBBBB', 'c0000000-0000-4000-8000-0000000000b1', 'c0000000-0000-4000-8000-0000000000b2',
   'active', now() - interval '5 minutes', now() + interval '55 minutes', now(), '{}');
select lives_ok(
  $$ insert into public.video_chat_messages (meeting_id, session_id, user_id, user_type, client_message_id, body)
     values ('MID-PGTAPCHATAAAAAAA', 's-a1', 'c0000000-0000-4000-8000-0000000000a1', 'tutor', 'm1', 'hello A'),
            ('MID-PGTAPCHATBBBBBBB', 's-b1', 'c0000000-0000-4000-8000-0000000000b1', 'tutor', 'm1', 'hello B') $$,
  'service_role stores chat messages'
);
select throws_ok(
  $$ insert into public.video_chat_messages (meeting_id, session_id, user_id, user_type, client_message_id, body)
     values ('MID-PGTAPCHATAAAAAAA', 's-a1', 'c0000000-0000-4000-8000-0000000000a1', 'tutor', 'm1', 'hello A again') $$,
  '23505', null,
  'a second message with the same client message id of the same user is refused'
);
select throws_ok(
  $$ insert into public.video_chat_messages (meeting_id, session_id, user_id, user_type, client_message_id, body)
     values ('MID-PGTAPCHATAAAAAAA', 's-a1', 'c0000000-0000-4000-8000-0000000000a1', 'tutor', 'm2', repeat('x', 2001)) $$,
  '23514', null,
  'a message over 2,000 characters is refused'
);
select throws_ok(
  $$ insert into public.video_chat_messages (meeting_id, session_id, user_id, user_type, client_message_id, body)
     values ('MID-PGTAPCHATZZZZZZZ', 's-z', 'c0000000-0000-4000-8000-0000000000a1', 'tutor', 'm3', 'orphan') $$,
  '23503', null,
  'a message of a meeting the projection does not have is refused'
);
reset role;

set local role authenticated;
select diag(set_config('request.jwt.claims', '{"sub":"c0000000-0000-4000-8000-0000000000a2","role":"authenticated"}', true));
select results_eq(
  $$ select body from public.video_chat_messages $$,
  array['hello A'],
  'the student reads their own meeting''s chat, and no other'
);
select throws_ok(
  $$ insert into public.video_chat_messages (meeting_id, session_id, user_id, user_type, client_message_id, body)
     values ('MID-PGTAPCHATAAAAAAA', 's-a2', 'c0000000-0000-4000-8000-0000000000a2', 'student', 'm9', 'forged') $$,
  '42501', null,
  'a user cannot write chat directly (the service checks the live session first)'
);
select diag(set_config('request.jwt.claims', '{"sub":"c0000000-0000-4000-8000-0000000000b2","role":"authenticated"}', true));
select is_empty(
  $$ select 1 from public.video_chat_messages where meeting_id = 'MID-PGTAPCHATAAAAAAA' $$,
  'another meeting''s student reads nothing of meeting A'
);
select diag(set_config('request.jwt.claims', '{"sub":"c0000000-0000-4000-8000-0000000000ff","role":"authenticated"}', true));
select is_empty($$ select 1 from public.video_chat_messages $$, 'a stranger reads nothing');
select throws_ok(
  $$ delete from public.video_chat_messages $$,
  '42501', null, 'a user cannot delete chat'
);
reset role;

set local role anon;
select throws_ok($$ select 1 from public.video_chat_messages $$, '42501', null, 'anon cannot read chat');
reset role;

select * from finish();
rollback;
