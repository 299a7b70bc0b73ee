-- video_boards, video_board_updates, video_call_quality: RLS enabled and forced, readable only
-- by the meeting's own tutor and student (not a stranger, not another meeting's participant,
-- not anon), written only by the participant service. Users are simulated as in
-- video_rls.test.sql. Everything is rolled back.

begin;
create extension if not exists pgtap;

select plan(20);

select ok(
  (select bool_and(relrowsecurity and relforcerowsecurity) from pg_class
    where oid in ('public.video_boards'::regclass, 'public.video_board_updates'::regclass, 'public.video_call_quality'::regclass)),
  'RLS is enabled and forced on the board and quality tables'
);
select ok(
  not has_table_privilege('anon', 'public.video_boards', 'select, insert, update, delete')
    and not has_table_privilege('anon', 'public.video_board_updates', 'select, insert, update, delete')
    and not has_table_privilege('anon', 'public.video_call_quality', 'select, insert, update, delete'),
  'anon has no privilege on the board and quality tables'
);
select ok(
  has_table_privilege('authenticated', 'public.video_board_updates', 'select')
    and not has_table_privilege('authenticated', 'public.video_board_updates', 'insert, update, delete')
    and not has_table_privilege('authenticated', 'public.video_boards', 'insert, update, delete')
    and not has_table_privilege('authenticated', 'public.video_call_quality', 'insert, update, delete'),
  'authenticated may only read the board and quality tables'
);

set local role service_role;
insert into public.participant_meetings
  (meeting_id, tutor_id, student_id, status, scheduled_start, scheduled_end, source_updated_at, meeting)
values
  ('MID-PGTAPBOARDAAAAAA', 'd0000000-0000-4000-8000-0000000000a1', 'd0000000-0000-4000-8000-0000000000a2',
   'active', now() - interval '5 minutes', now() + interval '55 minutes', now(), '{}'),
  ('MID-PGTAPBOARDBBBBBB', 'd0000000-0000-4000-8000-0000000000b1', 'd0000000-0000-4000-8000-0000000000b2',
   'active', now() - interval '5 minutes', now() + interval '55 minutes', now(), '{}');
select lives_ok(
  $$ insert into public.video_boards (meeting_id, snapshot, size_bytes) values
       ('MID-PGTAPBOARDAAAAAA', '\x0101', 2), ('MID-PGTAPBOARDBBBBBB', '\x0202', 2) $$,
  'service_role creates boards'
);
select lives_ok(
  $$ insert into public.video_board_updates (meeting_id, session_id, user_id, body) values
       ('MID-PGTAPBOARDAAAAAA', 's-a1', 'd0000000-0000-4000-8000-0000000000a1', '\x0a0a'),
       ('MID-PGTAPBOARDBBBBBB', 's-b1', 'd0000000-0000-4000-8000-0000000000b1', '\x0b0b') $$,
  'service_role appends board updates'
);
select lives_ok(
  $$ insert into public.video_call_quality (meeting_id, session_id, user_id, peer_session_id, rtt_ms, loss_ratio, relayed, interval_ms) values
       ('MID-PGTAPBOARDAAAAAA', 's-a1', 'd0000000-0000-4000-8000-0000000000a1', 's-a2', 42, 0.01, true, 10000),
       ('MID-PGTAPBOARDBBBBBB', 's-b1', 'd0000000-0000-4000-8000-0000000000b1', 's-b2', 7, 0, false, 10000) $$,
  'service_role stores quality samples'
);
select throws_ok(
  $$ insert into public.video_board_updates (meeting_id, session_id, user_id, body)
     values ('MID-PGTAPBOARDAAAAAA', 's-a1', 'd0000000-0000-4000-8000-0000000000a1', '\x') $$,
  '23514', null, 'an empty board update is refused'
);
select throws_ok(
  $$ insert into public.video_board_updates (meeting_id, session_id, user_id, body)
     values ('MID-PGTAPBOARDZZZZZZ', 's-z', 'd0000000-0000-4000-8000-0000000000a1', '\x01') $$,
  '23503', null, 'an update of a board that does not exist is refused'
);
select throws_ok(
  $$ insert into public.video_call_quality (meeting_id, session_id, user_id, peer_session_id, loss_ratio, relayed, interval_ms)
     values ('MID-PGTAPBOARDAAAAAA', 's-a1', 'd0000000-0000-4000-8000-0000000000a1', 's-a2', 1.5, false, 10000) $$,
  '23514', null, 'a loss ratio above 1 is refused'
);
reset role;

set local role authenticated;
select diag(set_config('request.jwt.claims', '{"sub":"d0000000-0000-4000-8000-0000000000a2","role":"authenticated"}', true));
select results_eq($$ select meeting_id from public.video_boards $$, array['MID-PGTAPBOARDAAAAAA'], 'the student reads their own meeting''s board, and no other');
select results_eq($$ select body from public.video_board_updates $$, array['\x0a0a'::bytea], 'the student reads their own meeting''s board updates, and no others');
select results_eq($$ select rtt_ms from public.video_call_quality $$, array[42::double precision], 'the student reads their own meeting''s call quality, and no other');
select throws_ok(
  $$ insert into public.video_board_updates (meeting_id, session_id, user_id, body)
     values ('MID-PGTAPBOARDAAAAAA', 's-a2', 'd0000000-0000-4000-8000-0000000000a2', '\x0c') $$,
  '42501', null, 'a user cannot write board updates directly (the service checks the live session and the lock first)'
);
select throws_ok(
  $$ update public.video_boards set locked = false $$,
  '42501', null, 'a student cannot unlock the board directly'
);
select diag(set_config('request.jwt.claims', '{"sub":"d0000000-0000-4000-8000-0000000000b2","role":"authenticated"}', true));
select is_empty($$ select 1 from public.video_boards where meeting_id = 'MID-PGTAPBOARDAAAAAA' $$, 'another meeting''s student reads nothing of board A');
select is_empty($$ select 1 from public.video_board_updates where meeting_id = 'MID-PGTAPBOARDAAAAAA' $$, 'another meeting''s student reads no update of board A');
select diag(set_config('request.jwt.claims', '{"sub":"d0000000-0000-4000-8000-0000000000ff","role":"authenticated"}', true));
select is_empty(
  $$ select 1 from public.video_boards union all select 1 from public.video_board_updates union all select 1 from public.video_call_quality $$,
  'a stranger reads nothing'
);
select throws_ok($$ delete from public.video_board_updates $$, '42501', null, 'a user cannot delete board updates');
reset role;

set local role anon;
select throws_ok($$ select 1 from public.video_board_updates $$, '42501', null, 'anon cannot read board updates');
select throws_ok($$ select 1 from public.video_call_quality $$, '42501', null, 'anon cannot read call quality');
reset role;

select * from finish();
rollback;
