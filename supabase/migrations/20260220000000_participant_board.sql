-- The whiteboard of a meeting and the call quality its clients report (issue 14). Owned by the
-- participant service, like chat: it decides who is a live session of which meeting (and who
-- is the tutor), which is the whole authorisation of a board update.
--
-- A board is a Yjs document. Every accepted update is appended to video_board_updates before
-- the sender is answered (so an acknowledged stroke survives any crash); the service folds
-- them into video_boards.snapshot (Y.encodeStateAsUpdate of the merged document) every few
-- dozen updates and at the end of the meeting, and deletes what it folded. The current board
-- is the snapshot plus the updates after it. size_bytes is what is stored (snapshot + pending
-- updates), checked against the per-board limit in the same statement as the insert.

create table if not exists public.video_boards (
  meeting_id text primary key references public.participant_meetings (meeting_id) on delete cascade,
  locked boolean not null default false,
  snapshot bytea not null default '\x',
  -- The last video_board_updates.id folded into snapshot.
  snapshot_update_id bigint not null default 0,
  size_bytes integer not null default 0 constraint video_boards_size_nonnegative check (size_bytes >= 0),
  pending_updates integer not null default 0 constraint video_boards_pending_nonnegative check (pending_updates >= 0),
  -- The final board as an image, rendered when the meeting ended (the lesson record's board).
  final_svg text,
  final_elements integer,
  final_width integer,
  final_height integer,
  updated_at timestamptz not null default now()
);

create table if not exists public.video_board_updates (
  id bigint generated always as identity primary key,
  meeting_id text not null references public.video_boards (meeting_id) on delete cascade,
  session_id text not null,
  user_id uuid not null,
  body bytea not null constraint video_board_updates_body_length check (octet_length(body) between 1 and 1048576),
  created_at timestamptz not null default now()
);

create index if not exists video_board_updates_meeting_idx on public.video_board_updates (meeting_id, id);

create table if not exists public.video_call_quality (
  id bigint generated always as identity primary key,
  meeting_id text not null references public.participant_meetings (meeting_id) on delete cascade,
  session_id text not null,
  user_id uuid not null,
  peer_session_id text not null,
  rtt_ms double precision constraint video_call_quality_rtt_range check (rtt_ms is null or rtt_ms between 0 and 60000),
  loss_ratio double precision constraint video_call_quality_loss_range check (loss_ratio is null or loss_ratio between 0 and 1),
  relayed boolean not null,
  interval_ms integer not null constraint video_call_quality_interval_range check (interval_ms between 1000 and 600000),
  received_at timestamptz not null default now()
);

create index if not exists video_call_quality_meeting_idx on public.video_call_quality (meeting_id, user_id);

do $$
declare t text;
begin
  foreach t in array array['video_boards', 'video_board_updates', 'video_call_quality'] loop
    execute format('alter table public.%I enable row level security', t);
    execute format('alter table public.%I force row level security', t);
    execute format('revoke all on public.%I from anon, authenticated', t);
    -- Users read (the board state, the lesson record) through RLS; only the service writes,
    -- after it has checked the live session (and, for a student's stroke, the lock).
    execute format('grant select on public.%I to authenticated', t);
    execute format('grant all on public.%I to service_role', t);
    execute format('drop policy if exists %I on public.%I', t || '_read_own_meeting', t);
    execute format(
      'create policy %I on public.%I for select to authenticated using (
         exists (select 1 from public.participant_meetings m
                  where m.meeting_id = %I.meeting_id and (select auth.uid()) in (m.tutor_id, m.student_id)))',
      t || '_read_own_meeting', t, t);
    execute format('drop policy if exists %I on public.%I', t || '_service', t);
    execute format('create policy %I on public.%I for all to service_role using (true) with check (true)', t || '_service', t);
  end loop;
end
$$;
