-- Group lessons (issue 15): the participant service's side.
--
-- Its projection of a meeting learns every student (the Meeting snapshot's studentIds, the first
-- being student_id), and every policy that let "the tutor or the student" read a meeting's
-- sessions, chat, board, quality reports and removals now lets any of its people read them.

alter table public.participant_meetings add column if not exists student_ids uuid[] not null default '{}';

-- From the snapshot itself, so that participant_apply_meeting (and the join that calls it) keep
-- their signatures: a snapshot without studentIds (a 1:1 lesson of before) has its one student.
create or replace function public.participant_meetings_students() returns trigger
language plpgsql
set search_path = public
as $$
begin
  new.student_ids := coalesce(
    (select array_agg(s::uuid order by n) from jsonb_array_elements_text(coalesce(new.meeting -> 'studentIds', '[]'::jsonb)) with ordinality as t(s, n)),
    array[new.student_id]);
  return new;
end;
$$;

drop trigger if exists participant_meetings_students on public.participant_meetings;
create trigger participant_meetings_students before insert or update of meeting, student_id on public.participant_meetings
  for each row execute function public.participant_meetings_students();

update public.participant_meetings set student_id = student_id;

drop policy if exists participant_meetings_read_own on public.participant_meetings;
create policy participant_meetings_read_own on public.participant_meetings
  for select to authenticated
  using ((select auth.uid()) = tutor_id or (select auth.uid()) = any (student_ids));

do $$
declare t text;
begin
  foreach t in array array['video_participants', 'video_chat_messages', 'video_boards', 'video_board_updates', 'video_call_quality', 'participant_removals'] loop
    execute format('drop policy if exists %I on public.%I', t || '_read_own_meeting', t);
    execute format(
      'create policy %I on public.%I for select to authenticated using (
         exists (select 1 from public.participant_meetings m
                  where m.meeting_id = %I.meeting_id
                    and ((select auth.uid()) = m.tutor_id or (select auth.uid()) = any (m.student_ids))))',
      t || '_read_own_meeting', t, t);
  end loop;
end
$$;
