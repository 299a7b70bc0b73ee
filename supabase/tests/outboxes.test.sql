-- The services' transactional outboxes (video_meeting_outbox, video_participant_outbox): RLS
-- enabled and forced, no privilege at all for anon and authenticated (an event in an outbox is
-- published as the service: a user who could write one could forge participant.joined), and
-- the service_role writes, reads and deletes them. Everything is rolled back.

begin;
create extension if not exists pgtap;

select plan(16);

select has_table('public', 'video_meeting_outbox', 'video_meeting_outbox exists');
select has_table('public', 'video_participant_outbox', 'video_participant_outbox exists');
select col_is_pk('public', 'video_participant_outbox', 'event_id', 'one row per event id in the participant outbox');
select ok(
  exists (select 1 from pg_indexes where schemaname = 'public' and tablename = 'video_participant_outbox' and indexdef like '%(meeting_id, seq)%'),
  'the participant outbox reads a meeting''s events by (meeting_id, seq), as the meeting outbox does'
);
select ok(
  (select bool_and(relrowsecurity and relforcerowsecurity) from pg_class
   where oid in ('public.video_meeting_outbox'::regclass, 'public.video_participant_outbox'::regclass)),
  'RLS is enabled and forced on both outboxes'
);
select ok(
  not has_table_privilege('anon', 'public.video_participant_outbox', 'select, insert, update, delete')
    and not has_table_privilege('anon', 'public.video_meeting_outbox', 'select, insert, update, delete'),
  'anon has no privilege on either outbox'
);
select ok(
  not has_table_privilege('authenticated', 'public.video_participant_outbox', 'select, insert, update, delete')
    and not has_table_privilege('authenticated', 'public.video_meeting_outbox', 'select, insert, update, delete'),
  'authenticated has no privilege on either outbox'
);

set local role service_role;
select lives_ok(
  $$ insert into public.video_participant_outbox (event_id, meeting_id, subject, body, event_time) values
       ('participant.joined:pgtap-s1', 'MID-PGTAPOUTBOXAAAAA', 'participant.joined.MID-PGTAPOUTBOXAAAAA', '{}', now()),
       ('participant.left:pgtap-s1', 'MID-PGTAPOUTBOXAAAAA', 'participant.left.MID-PGTAPOUTBOXAAAAA', '{}', now()) $$,
  'service_role writes participant events'
);
select throws_ok(
  $$ insert into public.video_participant_outbox (event_id, meeting_id, subject, body, event_time)
     values ('participant.joined:pgtap-s1', 'MID-PGTAPOUTBOXAAAAA', 'participant.joined.MID-PGTAPOUTBOXAAAAA', '{"again":1}', now()) $$,
  '23505', null, 'one row per event id: the same event is owed once'
);
select results_eq(
  $$ select event_id from public.video_participant_outbox where meeting_id = 'MID-PGTAPOUTBOXAAAAA' order by seq $$,
  array['participant.joined:pgtap-s1', 'participant.left:pgtap-s1'],
  'service_role reads a meeting''s events in the order they were written'
);
reset role;

set local role authenticated;
select diag(set_config('request.jwt.claims', '{"sub":"a0000000-0000-4000-8000-0000000000a1","role":"authenticated"}', true));
select throws_ok(
  $$ select * from public.video_participant_outbox $$,
  '42501', null, 'a user cannot read the participant outbox'
);
select throws_ok(
  $$ insert into public.video_participant_outbox (event_id, meeting_id, subject, body, event_time)
     values ('participant.joined:forged', 'MID-PGTAPOUTBOXAAAAA', 'participant.joined.MID-PGTAPOUTBOXAAAAA', '{}', now()) $$,
  '42501', null, 'a user cannot forge a participant event'
);
select throws_ok(
  $$ delete from public.video_participant_outbox $$,
  '42501', null, 'a user cannot drop an owed participant event'
);
select throws_ok(
  $$ select * from public.video_meeting_outbox $$,
  '42501', null, 'a user cannot read the meeting outbox'
);
reset role;

set local role service_role;
select lives_ok(
  $$ delete from public.video_participant_outbox where event_id = 'participant.joined:pgtap-s1' $$,
  'service_role clears a published event'
);
select results_eq(
  $$ select event_id from public.video_participant_outbox where meeting_id = 'MID-PGTAPOUTBOXAAAAA' $$,
  array['participant.left:pgtap-s1'],
  'only the cleared event is gone'
);
reset role;

select * from finish();
rollback;
