-- Meetings and participant sessions, with row-level security as the real gate.

create extension if not exists pgcrypto;

create table public.video_meetings (
  id uuid primary key default gen_random_uuid(),
  meeting_id text not null unique
    constraint video_meetings_meeting_id_format check (meeting_id ~ '^MID-[A-Z0-9]{16}$'),
  booking_id text not null unique
    constraint video_meetings_booking_id_length check (char_length(booking_id) between 1 and 200),
  tutor_id uuid not null,
  student_id uuid not null,
  title text not null default '',
  tutor_name text not null default '',
  student_name text not null default '',
  passcode text not null
    constraint video_meetings_passcode_format check (passcode ~ '^[0-9]{6}$'),
  status text not null default 'pending'
    constraint video_meetings_status_values
      check (status in ('pending', 'active', 'completed', 'cancelled')),
  scheduled_start timestamptz not null,
  scheduled_end timestamptz not null,
  started_at timestamptz,
  ended_at timestamptz,
  end_reason text,
  recording_url text,
  -- Meeting-wide passcode lockout; per-client counters live in video_passcode_failures.
  failed_passcode_attempts integer not null default 0 check (failed_passcode_attempts >= 0),
  passcode_window_started_at timestamptz,
  locked_until timestamptz,
  no_show_published_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint video_meetings_times check (scheduled_end > scheduled_start),
  constraint video_meetings_distinct_people check (tutor_id <> student_id)
);

create index video_meetings_tutor_idx on public.video_meetings (tutor_id);
create index video_meetings_student_idx on public.video_meetings (student_id);
-- The sweep that closes meetings whose window has passed.
create index video_meetings_open_end_idx on public.video_meetings (scheduled_end)
  where status in ('pending', 'active');

create table public.video_passcode_failures (
  meeting_id text not null references public.video_meetings (meeting_id) on delete cascade,
  client_key text not null check (char_length(client_key) between 1 and 200),
  failures integer not null default 0 check (failures >= 0),
  window_started_at timestamptz not null default now(),
  locked_until timestamptz,
  primary key (meeting_id, client_key)
);

create table public.video_participants (
  id uuid primary key default gen_random_uuid(),
  meeting_id text not null references public.video_meetings (meeting_id) on delete cascade,
  user_id uuid not null,
  user_type text not null
    constraint video_participants_user_type_values check (user_type in ('tutor', 'student')),
  display_name text not null default '',
  session_id text not null unique
    constraint video_participants_session_id_format check (session_id ~ '^[A-Za-z0-9_-]{8,64}$'),
  resume_token_hash text,
  joined_at timestamptz not null default now(),
  left_at timestamptz,
  left_reason text
    constraint video_participants_left_reason_values
      check (left_reason in ('left', 'timeout', 'ended')),
  is_muted boolean not null default false,
  camera_off boolean not null default false,
  connected boolean not null default true,
  disconnected_at timestamptz,
  last_seen_at timestamptz not null default now(),
  reconnects integer not null default 0 check (reconnects >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint video_participants_left_consistent check ((left_at is null) = (left_reason is null))
);

create index video_participants_live_idx on public.video_participants (meeting_id)
  where left_at is null;
create index video_participants_meeting_user_idx on public.video_participants (meeting_id, user_id);
-- Presence sweep: disconnected sessions whose grace period may have passed.
create index video_participants_disconnected_idx on public.video_participants (disconnected_at)
  where left_at is null and not connected;

create or replace function public.video_touch_updated_at() returns trigger
language plpgsql as $$
begin
  new.updated_at := now();
  return new;
end
$$;

create trigger video_meetings_touch before update on public.video_meetings
  for each row execute function public.video_touch_updated_at();
create trigger video_participants_touch before update on public.video_participants
  for each row execute function public.video_touch_updated_at();

-- Row-level security: enabled and forced, so even the table owner goes through it.
alter table public.video_meetings enable row level security;
alter table public.video_meetings force row level security;
alter table public.video_participants enable row level security;
alter table public.video_participants force row level security;
alter table public.video_passcode_failures enable row level security;
alter table public.video_passcode_failures force row level security;

-- Supabase grants everything on new public tables to the API roles by default; take it
-- back and grant only what the policies are meant to allow.
revoke all on public.video_meetings, public.video_participants, public.video_passcode_failures
  from anon, authenticated;
grant select on public.video_meetings to authenticated;
grant select on public.video_participants to authenticated;
grant update (is_muted, camera_off) on public.video_participants to authenticated;
grant all on public.video_meetings, public.video_participants, public.video_passcode_failures
  to service_role;

create policy video_meetings_read_own on public.video_meetings
  for select to authenticated
  using ((select auth.uid()) in (tutor_id, student_id));

create policy video_participants_read_own_meeting on public.video_participants
  for select to authenticated
  using (
    exists (
      select 1 from public.video_meetings m
      where m.meeting_id = video_participants.meeting_id
        and (select auth.uid()) in (m.tutor_id, m.student_id)
    )
  );

-- A participant may change their own mute and camera state (column grants above limit
-- the columns), and only while the session is live.
create policy video_participants_update_own on public.video_participants
  for update to authenticated
  using (user_id = (select auth.uid()) and left_at is null)
  with check (user_id = (select auth.uid()));

-- service_role has BYPASSRLS on Supabase and in the local bootstrap; these policies make
-- the intent explicit should that attribute ever be missing.
create policy video_meetings_service on public.video_meetings
  for all to service_role using (true) with check (true);
create policy video_participants_service on public.video_participants
  for all to service_role using (true) with check (true);
create policy video_passcode_failures_service on public.video_passcode_failures
  for all to service_role using (true) with check (true);
