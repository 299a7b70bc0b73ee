-- One owner per table (structure issue 11).
--
-- video_meetings belongs to the meeting service. Until now the participant service read, locked
-- and referenced it; from here on it keeps its own projection of the meetings it needs,
-- participant_meetings, fed by the MEETINGS stream (meeting.created/started/ended/cancelled/
-- rescheduled) and by the answer of svc.meeting.verify_join on every join, so a join that beats
-- meeting.created to the projection still finds its row. The projection is what the mesh-limit
-- lock is taken on, what the participant's RLS policies consult, and what video_participants
-- references.
--
-- meeting.no_show moves to the meeting service, which decides it from the participant
-- service's attendance (svc.participant.attendance). no_show_checked_at records that the
-- decision was taken (with or without a no-show), so a meeting is checked once.
--
-- Supabase runs migrations in place, so the projection is backfilled from video_meetings here.

create table if not exists public.participant_meetings (
  meeting_id text primary key
    constraint participant_meetings_meeting_id_format check (meeting_id ~ '^MID-[A-Z0-9]{16}$'),
  tutor_id uuid not null,
  student_id uuid not null,
  status text not null
    constraint participant_meetings_status_values
      check (status in ('pending', 'active', 'completed', 'cancelled')),
  scheduled_start timestamptz not null,
  scheduled_end timestamptz not null,
  -- The meeting service's updated_at of the snapshot below: with the status it orders snapshots
  -- that arrive out of order (events are handled concurrently; a join's verify_join answer may be
  -- older than an event already applied), so an older one never overwrites a newer one.
  source_updated_at timestamptz not null,
  -- The Meeting message as last announced (proto3 JSON), for replies such as a resume.
  meeting jsonb not null,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint participant_meetings_times check (scheduled_end > scheduled_start)
);

drop trigger if exists participant_meetings_touch on public.participant_meetings;
create trigger participant_meetings_touch before update on public.participant_meetings
  for each row execute function public.video_touch_updated_at();

insert into public.participant_meetings
  (meeting_id, tutor_id, student_id, status, scheduled_start, scheduled_end, source_updated_at, meeting)
select m.meeting_id, m.tutor_id, m.student_id, m.status, m.scheduled_start, m.scheduled_end, m.updated_at,
  -- Timestamps as proto3 JSON has them (RFC 3339, UTC). The join window (joinableFrom/Until)
  -- is the meeting service's policy and not stored: the next event or join brings it.
  jsonb_strip_nulls(jsonb_build_object(
    'meetingId', m.meeting_id,
    'bookingId', m.booking_id,
    'tutorId', m.tutor_id,
    'studentId', m.student_id,
    'title', m.title,
    'tutorName', m.tutor_name,
    'studentName', m.student_name,
    'status', m.status,
    'scheduledStart', to_char(m.scheduled_start at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'scheduledEnd', to_char(m.scheduled_end at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'startedAt', to_char(m.started_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'endedAt', to_char(m.ended_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'createdAt', to_char(m.created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
    'updatedAt', to_char(m.updated_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
  ))
from public.video_meetings m
on conflict (meeting_id) do nothing;

-- Sessions reference the participant service's own meetings, not the meeting service's table.
alter table public.video_participants drop constraint if exists video_participants_meeting_id_fkey;
alter table public.video_participants
  add constraint video_participants_meeting_id_fkey
  foreign key (meeting_id) references public.participant_meetings (meeting_id) on delete cascade;

-- Row-level security, enabled and forced like every table.
alter table public.participant_meetings enable row level security;
alter table public.participant_meetings force row level security;
revoke all on public.participant_meetings from anon, authenticated;
-- The participant service reads through RLS as the user (list, attendance, mute decide who may
-- see or change what from the meeting's tutor and student).
grant select on public.participant_meetings to authenticated;
grant all on public.participant_meetings to service_role;

drop policy if exists participant_meetings_read_own on public.participant_meetings;
create policy participant_meetings_read_own on public.participant_meetings
  for select to authenticated
  using ((select auth.uid()) in (tutor_id, student_id));
drop policy if exists participant_meetings_service on public.participant_meetings;
create policy participant_meetings_service on public.participant_meetings
  for all to service_role using (true) with check (true);

-- A user reads the sessions of their own meetings: decided on the participant's projection.
drop policy if exists video_participants_read_own_meeting on public.video_participants;
create policy video_participants_read_own_meeting on public.video_participants
  for select to authenticated
  using (
    exists (
      select 1 from public.participant_meetings m
      where m.meeting_id = video_participants.meeting_id
        and (select auth.uid()) in (m.tutor_id, m.student_id)
    )
  );

-- The no-show decision, now the meeting service's.
alter table public.video_meetings add column if not exists no_show_checked_at timestamptz;
update public.video_meetings set no_show_checked_at = no_show_published_at
  where no_show_published_at is not null and no_show_checked_at is null;
drop index if exists public.video_meetings_no_show_due_idx;
create index if not exists video_meetings_no_show_due_idx on public.video_meetings (scheduled_start)
  where no_show_checked_at is null and status in ('pending', 'active');
