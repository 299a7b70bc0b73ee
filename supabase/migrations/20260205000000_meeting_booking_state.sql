-- What the meeting service remembers besides the meetings themselves:
--  * video_booking_state: cancellations and reschedules of a booking, kept whether or not its
--    meeting exists yet, so that events arriving out of order (cancel before confirm) end in the
--    right state, and so that a stale reschedule redelivered late never undoes a newer one.
--  * video_meeting_outbox: meeting.* events written in the same transaction as the transition
--    they announce and deleted once JetStream has acknowledged them. A crash between commit and
--    publish leaves the row behind; the service publishes it again (same event id, so JetStream
--    drops a second copy), so every transition is announced exactly once.

create table public.video_booking_state (
  booking_id text primary key
    constraint video_booking_state_booking_id_length check (char_length(booking_id) between 1 and 200),
  cancelled_at timestamptz,
  cancel_reason text not null default '',
  -- The latest reschedule applied (by the booking system's event time) and what it replaced.
  scheduled_start timestamptz,
  scheduled_end timestamptz,
  previous_start timestamptz,
  previous_end timestamptz,
  reschedule_event_id text,
  reschedule_event_time timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint video_booking_state_times check (
    (scheduled_start is null) = (scheduled_end is null)
    and (scheduled_end is null or scheduled_end > scheduled_start)
  )
);

create trigger video_booking_state_touch before update on public.video_booking_state
  for each row execute function public.video_touch_updated_at();

create table public.video_meeting_outbox (
  event_id text primary key,
  meeting_id text not null references public.video_meetings (meeting_id) on delete cascade,
  subject text not null,
  -- The event's proto3 JSON body, exactly as published.
  body text not null,
  -- ce-time, and the order in which a meeting's events are published.
  event_time timestamptz not null,
  seq bigint generated always as identity,
  created_at timestamptz not null default now()
);

create index video_meeting_outbox_meeting_idx on public.video_meeting_outbox (meeting_id, seq);
create index video_meeting_outbox_time_idx on public.video_meeting_outbox (event_time);

alter table public.video_booking_state enable row level security;
alter table public.video_booking_state force row level security;
alter table public.video_meeting_outbox enable row level security;
alter table public.video_meeting_outbox force row level security;

-- System state: nobody reads it through the API.
revoke all on public.video_booking_state, public.video_meeting_outbox from anon, authenticated;
grant all on public.video_booking_state, public.video_meeting_outbox to service_role;

create policy video_booking_state_service on public.video_booking_state
  for all to service_role using (true) with check (true);
create policy video_meeting_outbox_service on public.video_meeting_outbox
  for all to service_role using (true) with check (true);
