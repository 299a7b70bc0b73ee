-- Sessions, not users, filled the mesh (issue 18, item 12): the tutor's four tabs locked the
-- student out of their own lesson. participant_join now counts people for a newcomer and
-- sessions for an extra tab:
--   * a user with no live session gets in while fewer than p_max_sessions distinct users are in
--     (a 1:1 lesson: always);
--   * another tab of a user already in gets in only while fewer than p_max_sessions sessions
--     are live, so extra tabs use spare room and never anyone's place.
-- So the mesh holds at most p_max_sessions + (distinct users - 1) sessions (5 for a lesson of
-- two with the default 4). Chosen over "a new tab takes over the user's oldest slot": that
-- would close a tab the user may still be using (a second device as a document camera), and
-- needs a new leave reason and event for what is only a capacity rule.
-- Everything else is as in 20260221000000 (tutor controls): the same signature, lock and
-- refusals (LC003 is still meeting_full, LC005 a removed user), so the service calls it unchanged.

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
  where case
    -- Another tab of someone already in: only into spare room, so one person's tabs cannot
    -- take the place of the other participant.
    when exists (select 1 from video_participants where meeting_id = p_meeting_id and left_at is null and user_id = p_user_id)
      then (select count(*) from video_participants where meeting_id = p_meeting_id and left_at is null) < p_max_sessions
    -- Somebody not in yet: counted by people, not by their tabs.
    else (select count(distinct user_id) from video_participants where meeting_id = p_meeting_id and left_at is null) < p_max_sessions
  end;
  if not found then
    raise exception 'the meeting already has % participants', p_max_sessions using errcode = 'LC003';
  end if;
  return query
    select * from video_participants where meeting_id = p_meeting_id and left_at is null order by joined_at, session_id;
end;
$$;
