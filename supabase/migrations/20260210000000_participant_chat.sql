-- Chat of a meeting (issue 14). Owned by the participant service: it already decides who is a
-- live session of which meeting, which is the whole authorisation of a chat message, so a send
-- is checked and stored in one statement.
--
-- (meeting_id, user_id, client_message_id) is unique: a client that resends after a lost reply
-- (a dropped socket, a resume) gets the stored message back, never a second copy.

create table if not exists public.video_chat_messages (
  id bigint generated always as identity primary key,
  meeting_id text not null references public.participant_meetings (meeting_id) on delete cascade,
  session_id text not null,
  user_id uuid not null,
  user_type text not null
    constraint video_chat_messages_user_type_values check (user_type in ('tutor', 'student')),
  client_message_id text not null
    constraint video_chat_messages_client_message_id_format check (client_message_id ~ '^[A-Za-z0-9_-]{1,64}$'),
  body text not null
    constraint video_chat_messages_body_length check (char_length(body) between 1 and 2000),
  sent_at timestamptz not null default now(),
  constraint video_chat_messages_client_message_unique unique (meeting_id, user_id, client_message_id)
);

create index if not exists video_chat_messages_meeting_idx on public.video_chat_messages (meeting_id, id);

alter table public.video_chat_messages enable row level security;
alter table public.video_chat_messages force row level security;
revoke all on public.video_chat_messages from anon, authenticated;
-- Users read (history, the lesson record) through RLS; only the service writes, after it has
-- checked that the sender is a live session of the meeting.
grant select on public.video_chat_messages to authenticated;
grant all on public.video_chat_messages to service_role;

drop policy if exists video_chat_messages_read_own_meeting on public.video_chat_messages;
create policy video_chat_messages_read_own_meeting on public.video_chat_messages
  for select to authenticated
  using (
    exists (
      select 1 from public.participant_meetings m
      where m.meeting_id = video_chat_messages.meeting_id
        and (select auth.uid()) in (m.tutor_id, m.student_id)
    )
  );
drop policy if exists video_chat_messages_service on public.video_chat_messages;
create policy video_chat_messages_service on public.video_chat_messages
  for all to service_role using (true) with check (true);
