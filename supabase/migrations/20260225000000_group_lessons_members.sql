-- Group lessons and recorded lessons (issue 15): the meeting service's side.
--
-- A meeting has a tutor and one or more students (student_id stays the first of them, so every
-- reader of a 1:1 lesson is unchanged), a media mode — p2p (the mesh, up to 4 people) or sfu
-- (a Janus VideoRoom: more than 4 people, or a recording) — and whether it is recorded.
--
-- student_ids is what the service writes with the row, in one statement. video_meeting_members
-- is the same set as rows (tutor included), kept equal by a trigger in the same transaction: it is
-- what RLS asks "is this user in this meeting?" of, with an index on the user for their meetings.

alter table public.video_meetings
  add column if not exists student_ids uuid[],
  add column if not exists media_mode text not null default 'p2p',
  add column if not exists record boolean not null default false;

update public.video_meetings set student_ids = array[student_id] where student_ids is null;

create or replace function public.video_meetings_default_students() returns trigger
language plpgsql
set search_path = public
as $$
begin
  if new.student_ids is null or cardinality(new.student_ids) = 0 then
    new.student_ids := array[new.student_id];
  end if;
  return new;
end;
$$;

drop trigger if exists video_meetings_default_students on public.video_meetings;
create trigger video_meetings_default_students before insert or update of student_id, student_ids on public.video_meetings
  for each row execute function public.video_meetings_default_students();

alter table public.video_meetings alter column student_ids set not null;
alter table public.video_meetings drop constraint if exists video_meetings_media_mode_values;
alter table public.video_meetings add constraint video_meetings_media_mode_values check (media_mode in ('p2p', 'sfu'));
alter table public.video_meetings drop constraint if exists video_meetings_students;
-- The first student is student_id; the tutor is not a student; at most 100 (the service's
-- configurable limit, 25 by default, is the real one).
alter table public.video_meetings add constraint video_meetings_students check (
  student_ids[1] = student_id and not (tutor_id = any (student_ids)) and cardinality(student_ids) between 1 and 100
  and array_position(student_ids, null) is null
);

create table if not exists public.video_meeting_members (
  meeting_id text not null references public.video_meetings (meeting_id) on delete cascade,
  user_id uuid not null,
  user_type text not null
    constraint video_meeting_members_user_type_values check (user_type in ('tutor', 'student')),
  primary key (meeting_id, user_id)
);
create index if not exists video_meeting_members_user_idx on public.video_meeting_members (user_id);

-- The members are the meeting's tutor and students, nothing else: written here only.
create or replace function public.video_meetings_sync_members() returns trigger
language plpgsql
set search_path = public
as $$
begin
  delete from video_meeting_members
  where meeting_id = new.meeting_id
    and not (user_id = new.tutor_id or user_id = any (new.student_ids));
  insert into video_meeting_members (meeting_id, user_id, user_type)
  select new.meeting_id, new.tutor_id, 'tutor'
  union all
  select new.meeting_id, s, 'student' from unnest(new.student_ids) as s
  on conflict (meeting_id, user_id) do update set user_type = excluded.user_type;
  return null;
end;
$$;

drop trigger if exists video_meetings_sync_members on public.video_meetings;
create trigger video_meetings_sync_members after insert or update of tutor_id, student_id, student_ids on public.video_meetings
  for each row execute function public.video_meetings_sync_members();

insert into public.video_meeting_members (meeting_id, user_id, user_type)
select meeting_id, tutor_id, 'tutor' from public.video_meetings
union all
select m.meeting_id, s, 'student' from public.video_meetings m, unnest(m.student_ids) as s
on conflict (meeting_id, user_id) do nothing;

-- "Is the caller one of this meeting's people?" A security definer function, so that the
-- members policy can ask it of its own table without recursing through RLS.
create or replace function public.video_is_meeting_member(p_meeting_id text) returns boolean
language sql stable security definer
set search_path = public
as $$
  select exists (select 1 from video_meeting_members where meeting_id = p_meeting_id and user_id = (select auth.uid()));
$$;
revoke all on function public.video_is_meeting_member(text) from public, anon;
grant execute on function public.video_is_meeting_member(text) to authenticated, service_role;

alter table public.video_meeting_members enable row level security;
alter table public.video_meeting_members force row level security;
revoke all on public.video_meeting_members from anon, authenticated;
grant select on public.video_meeting_members to authenticated;
grant all on public.video_meeting_members to service_role;

drop policy if exists video_meeting_members_read_own_meeting on public.video_meeting_members;
create policy video_meeting_members_read_own_meeting on public.video_meeting_members
  for select to authenticated
  using (public.video_is_meeting_member(meeting_id));
drop policy if exists video_meeting_members_service on public.video_meeting_members;
create policy video_meeting_members_service on public.video_meeting_members
  for all to service_role using (true) with check (true);

-- Every student of a group reads the meeting, not only the first.
drop policy if exists video_meetings_read_own on public.video_meetings;
create policy video_meetings_read_own on public.video_meetings
  for select to authenticated
  using (public.video_is_meeting_member(meeting_id));

-- Column grants are a list (20260222000002): the new columns users may read.
grant select (student_ids, media_mode, record) on public.video_meetings to authenticated;
