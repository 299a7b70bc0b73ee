-- A join in one round trip (top-of-the-hour issue 17).
--
-- A join used to be five round trips to Postgres from the participant service: begin, record the
-- meeting snapshot (which locks the projection row), read the status under that lock, insert
-- the session if the mesh has room, commit. On this 2-core machine the driver's socket writes
-- alone were a sixth of the service's CPU. The same steps now run inside one function called as
-- one statement: PL/pgSQL takes a fresh snapshot for each statement of a volatile function, so
-- the count after the lock still sees every join that held the lock before (the mesh limit holds
-- under concurrency), and the lock is held until the calling statement's transaction ends.
--
-- The projection's ordering rule lives in one place, participant_apply_meeting, used by joins
-- and by the MEETINGS stream consumer alike.

create or replace function public.participant_apply_meeting(
  p_meeting_id text, p_tutor_id uuid, p_student_id uuid, p_status text,
  p_scheduled_start timestamptz, p_scheduled_end timestamptz, p_source_updated_at timestamptz, p_meeting jsonb
) returns void
language sql volatile
set search_path = public
as $$
  -- A snapshot is newer when it is further along the lifecycle (pending → active → completed |
  -- cancelled), or as far along and later by the owner's clock. Either way ON CONFLICT DO UPDATE
  -- locks the row (FOR NO KEY UPDATE) until the transaction ends, even when it does not update.
  insert into participant_meetings as pm
    (meeting_id, tutor_id, student_id, status, scheduled_start, scheduled_end, source_updated_at, meeting)
  values (p_meeting_id, p_tutor_id, p_student_id, p_status, p_scheduled_start, p_scheduled_end, p_source_updated_at, p_meeting)
  on conflict (meeting_id) do update set
    tutor_id = excluded.tutor_id, student_id = excluded.student_id, status = excluded.status,
    scheduled_start = excluded.scheduled_start, scheduled_end = excluded.scheduled_end,
    source_updated_at = excluded.source_updated_at, meeting = excluded.meeting
  where ((case excluded.status when 'pending' then 0 when 'active' then 1 else 2 end), excluded.source_updated_at)
      > ((case pm.status when 'pending' then 0 when 'active' then 1 else 2 end), pm.source_updated_at);
$$;

-- Records the snapshot, then opens the session if the meeting is open and the mesh has room.
-- Returns the meeting's live sessions, the new one among them. Refusals are errors with their
-- own SQLSTATE, which the service maps to its error codes:
--   LC001 meeting_ended, LC002 meeting_cancelled, LC003 meeting_full.
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

-- The service's, not the Data API's: PUBLIC (and so anon and authenticated) may not call them.
revoke all on function public.participant_apply_meeting(text, uuid, uuid, text, timestamptz, timestamptz, timestamptz, jsonb) from public, anon, authenticated;
revoke all on function public.participant_join(text, uuid, uuid, text, timestamptz, timestamptz, timestamptz, jsonb, uuid, text, text, text, text, timestamptz, boolean, boolean, text, integer) from public, anon, authenticated;
grant execute on function public.participant_apply_meeting(text, uuid, uuid, text, timestamptz, timestamptz, timestamptz, jsonb) to service_role;
grant execute on function public.participant_join(text, uuid, uuid, text, timestamptz, timestamptz, timestamptz, jsonb, uuid, text, text, text, text, timestamptz, boolean, boolean, text, integer) to service_role;

-- A resume in one round trip: the session (locked), the meeting still open, the session marked
-- connected on its new gateway; returns the live sessions with the meeting's snapshot on each
-- row (the reply carries it). The resume token is checked by its SHA-256, which the service
-- computes: comparing digests of a 256-bit secret leaks nothing an attacker can steer by timing.
--   LC004 resume_rejected (no such live session of this user in this meeting, or a wrong token),
--   LC001 meeting_ended, LC002 meeting_cancelled.
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

revoke all on function public.participant_resume(text, text, uuid, text, timestamptz, text) from public, anon, authenticated;
grant execute on function public.participant_resume(text, text, uuid, text, timestamptz, text) to service_role;
