-- Tutor controls (issue 14): the tutor removes a participant, asks a student to unmute.
--
-- A removal bars the *user*, not just the session, from the meeting: a session id is one browser
-- tab, so barring only it would let the removed student click Join and be back a second later.
-- The bar lasts until the tutor lifts it ("allow again": allowed_at), because a serious product
-- needs a way back from a mistaken click or a settled dispute, and the tutor is the one who
-- decided. One row per removal, kept after it is lifted, so the lesson's history says who
-- removed whom and when.
--
-- Joins decide the bar in participant_join, under the projection row lock every join already
-- takes; the service takes the same lock when it removes (select … for no key update), so a join
-- racing a removal is either closed by it or refused (LC005 removed_from_meeting). A resume of a
-- removed session is refused with the same code instead of the generic LC004, so the client
-- shows why and does not try a fresh join.

create table if not exists public.participant_removals (
  id bigint generated always as identity primary key,
  meeting_id text not null references public.participant_meetings (meeting_id) on delete cascade,
  user_id uuid not null,
  -- The session the tutor pointed at (every live session of the user was closed with it).
  session_id text not null,
  removed_by uuid not null,
  removed_at timestamptz not null,
  allowed_at timestamptz,
  allowed_by uuid,
  constraint participant_removals_allowed_consistent check ((allowed_at is null) = (allowed_by is null)),
  constraint participant_removals_allowed_after check (allowed_at is null or allowed_at >= removed_at)
);

-- At most one bar in force per user and meeting; the join's check reads this index.
create unique index if not exists participant_removals_active_idx
  on public.participant_removals (meeting_id, user_id) where allowed_at is null;

alter table public.participant_removals enable row level security;
alter table public.participant_removals force row level security;
revoke all on public.participant_removals from anon, authenticated;
-- The meeting's tutor and student may read who was removed (the lesson's history); only the
-- service writes, after checking that the actor is the meeting's tutor.
grant select on public.participant_removals to authenticated;
grant all on public.participant_removals to service_role;

drop policy if exists participant_removals_read_own_meeting on public.participant_removals;
create policy participant_removals_read_own_meeting on public.participant_removals
  for select to authenticated
  using (
    exists (
      select 1 from public.participant_meetings m
      where m.meeting_id = participant_removals.meeting_id
        and (select auth.uid()) in (m.tutor_id, m.student_id)
    )
  );
drop policy if exists participant_removals_service on public.participant_removals;
create policy participant_removals_service on public.participant_removals
  for all to service_role using (true) with check (true);

-- A session the tutor removed ends with its own reason: attendance counts it up to then, and
-- the booking platform can tell it from a leave.
alter table public.video_participants drop constraint if exists video_participants_left_reason_values;
alter table public.video_participants add constraint video_participants_left_reason_values
  check (left_reason in ('left', 'timeout', 'ended', 'removed'));

-- When the tutor last asked this session to unmute: the rate limit, decided in the same
-- statement that records the ask, so it holds across participant replicas. Not in the column
-- grants: a user cannot reset it (and could only ever reset their own).
alter table public.video_participants add column if not exists unmute_asked_at timestamptz;

create or replace function public.participant_join(
  p_meeting_id text, p_tutor_id uuid, p_student_id uuid, p_status text,
  p_scheduled_start timestamptz, p_scheduled_end timestamptz, p_source_updated_at timestamptz, p_meeting jsonb,
  p_user_id uuid, p_user_type text, p_display_name text, p_session_id text, p_resume_token_hash text,
  p_now timestamptz, p_is_muted boolean, p_camera_off boolean, p_gateway_id text, p_max_sessions integer
) returns setof public.video_participants
language plpgsql volatile
set search_path = public
as $$
declare
  v_status text;
begin
  perform participant_apply_meeting(p_meeting_id, p_tutor_id, p_student_id, p_status,
    p_scheduled_start, p_scheduled_end, p_source_updated_at, p_meeting);
  -- Under the row lock: no meeting.ended can commit between this read and the insert.
  select status into strict v_status from participant_meetings where meeting_id = p_meeting_id;
  if v_status = 'completed' then
    raise exception 'the meeting has ended' using errcode = 'LC001';
  elsif v_status = 'cancelled' then
    raise exception 'the meeting was cancelled' using errcode = 'LC002';
  end if;
  -- Under the same lock participant_remove's callers take: a removal either sees this session
  -- (and closes it) or this join sees the removal.
  if exists (select 1 from participant_removals r
             where r.meeting_id = p_meeting_id and r.user_id = p_user_id and r.allowed_at is null) then
    raise exception 'the tutor removed this user from the meeting' using errcode = 'LC005';
  end if;
  insert into video_participants
    (meeting_id, user_id, user_type, display_name, session_id, resume_token_hash, joined_at, last_seen_at, is_muted, camera_off, gateway_id)
  select p_meeting_id, p_user_id, p_user_type, p_display_name, p_session_id, p_resume_token_hash, p_now, p_now, p_is_muted, p_camera_off, p_gateway_id
  where (select count(*) from video_participants where meeting_id = p_meeting_id and left_at is null) < p_max_sessions;
  if not found then
    raise exception 'the meeting already has % participants', p_max_sessions using errcode = 'LC003';
  end if;
  return query
    select * from video_participants where meeting_id = p_meeting_id and left_at is null order by joined_at, session_id;
end;
$$;

create or replace function public.participant_resume(
  p_session_id text, p_meeting_id text, p_user_id uuid, p_token_hash text, p_now timestamptz, p_gateway_id text
) returns table (
  session_id text, meeting_id text, user_id uuid, user_type text, display_name text, joined_at timestamptz,
  left_at timestamptz, left_reason text, is_muted boolean, camera_off boolean, connected boolean,
  disconnected_at timestamptz, reconnects integer, resume_token_hash text, gateway_id text, meeting jsonb
)
language plpgsql volatile
set search_path = public
as $$
#variable_conflict use_column
declare
  v_status text;
  v_meeting jsonb;
begin
  perform 1 from video_participants p
  where p.session_id = p_session_id and p.meeting_id = p_meeting_id and p.user_id = p_user_id
    and p.left_at is null and p.resume_token_hash = p_token_hash
  for update;
  if not found then
    -- A removed session says so (the client must not try a fresh join); any other refusal is
    -- the same LC004, so a wrong token learns nothing about the session.
    perform 1 from video_participants p
    where p.session_id = p_session_id and p.meeting_id = p_meeting_id and p.user_id = p_user_id
      and p.left_reason = 'removed' and p.resume_token_hash = p_token_hash;
    if found then
      raise exception 'the tutor removed this session from the meeting' using errcode = 'LC005';
    end if;
    raise exception 'this session cannot be resumed' using errcode = 'LC004';
  end if;
  -- Sessions reference the projection, so a live session's meeting is always there.
  select pm.status, pm.meeting into strict v_status, v_meeting from participant_meetings pm where pm.meeting_id = p_meeting_id;
  if v_status = 'completed' then
    raise exception 'the meeting has ended' using errcode = 'LC001';
  elsif v_status = 'cancelled' then
    raise exception 'the meeting was cancelled' using errcode = 'LC002';
  end if;
  update video_participants p
  set connected = true, disconnected_at = null, last_seen_at = p_now, reconnects = p.reconnects + 1, gateway_id = p_gateway_id
  where p.session_id = p_session_id;
  return query
    select p.session_id, p.meeting_id, p.user_id, p.user_type, p.display_name, p.joined_at, p.left_at, p.left_reason,
      p.is_muted, p.camera_off, p.connected, p.disconnected_at, p.reconnects, p.resume_token_hash, p.gateway_id, v_meeting
    from video_participants p
    where p.meeting_id = p_meeting_id and p.left_at is null
    order by p.joined_at, p.session_id;
end;
$$;

-- Redefined above with the same signatures: the grants of 20260218000000 stay in force.
