-- video_participant_outbox: the participant service publishes the way the meeting service does
-- (issue 11, "one way to publish consistently"). participant.joined / participant.left /
-- mute.changed are written in the transaction of the change they announce, published after
-- commit, then deleted; the presence sweep relays what a crash or a bus that did not answer
-- left behind. Before this the service published before or after its commit and leaned on
-- JetStream's two-minute duplicate window to repair a lost event.
-- Same shape as video_meeting_outbox (kit's Outbox works on either); LIKE copies no foreign key,
-- and none is wanted: an event owed for a meeting whose projection is gone is still owed to the
-- booking platform.

-- Columns, defaults, identity, primary key and indexes (meeting_id, seq) and (event_time), as
-- kit's Outbox reads and writes them: event_id, meeting_id, subject, body (the proto3 JSON
-- exactly as published), event_time (ce-time, and a meeting's publishing order), seq.
create table public.video_participant_outbox (like public.video_meeting_outbox including all);

alter table public.video_participant_outbox enable row level security;
alter table public.video_participant_outbox force row level security;

-- System state: nobody reads or forges events through the API.
revoke all on public.video_participant_outbox from anon, authenticated;
grant all on public.video_participant_outbox to service_role;

create policy video_participant_outbox_service on public.video_participant_outbox
  for all to service_role using (true) with check (true);
