-- The media service's tables (issue 15): the Janus VideoRoom of each sfu meeting and the
-- per-session join tokens. Secrets both: no user reads them through the Data API; the service
-- hands a session its own token through the join flow.

create table if not exists public.media_rooms (
  meeting_id text primary key
    constraint media_rooms_meeting_id_format check (meeting_id ~ '^MID-[A-Z0-9]{16}$'),
  -- The JANUS_NODES id the room lives on now; generation counts re-creations after a node died.
  node text not null,
  generation integer not null default 1 check (generation >= 1),
  room_secret text not null,
  record boolean not null default false,
  status text not null default 'open' constraint media_rooms_status_values check (status in ('open', 'closed')),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  closed_at timestamptz,
  -- Recording: recording (Janus writes .mjr files) → processing (after the meeting) → ready, then
  -- expired after the retention; failed when nothing was recorded.
  recording_status text constraint media_rooms_recording_status_values
    check (recording_status in ('recording', 'processing', 'ready', 'failed', 'expired')),
  recording_key text,
  recording_error text
);
create index if not exists media_rooms_open_node_idx on public.media_rooms (node) where status = 'open';

create table if not exists public.media_tokens (
  session_id text primary key check (char_length(session_id) between 1 and 128),
  meeting_id text not null references public.media_rooms (meeting_id) on delete cascade,
  user_id uuid not null,
  -- The VideoRoom `allowed` token: random, only in Janus's list while the session is live.
  token text not null unique,
  created_at timestamptz not null default now(),
  revoked_at timestamptz
);
create index if not exists media_tokens_live_idx on public.media_tokens (meeting_id) where revoked_at is null;

drop trigger if exists media_rooms_touch on public.media_rooms;
create trigger media_rooms_touch before update on public.media_rooms
  for each row execute function public.video_touch_updated_at();

alter table public.media_rooms enable row level security;
alter table public.media_rooms force row level security;
alter table public.media_tokens enable row level security;
alter table public.media_tokens force row level security;
revoke all on public.media_rooms, public.media_tokens from anon, authenticated;
grant all on public.media_rooms, public.media_tokens to service_role;
drop policy if exists media_rooms_service on public.media_rooms;
create policy media_rooms_service on public.media_rooms for all to service_role using (true) with check (true);
drop policy if exists media_tokens_service on public.media_tokens;
create policy media_tokens_service on public.media_tokens for all to service_role using (true) with check (true);
