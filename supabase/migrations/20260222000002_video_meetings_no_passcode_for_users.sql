-- The Data API cannot read a meeting's passcode (issue 18, item 16).
--
-- RLS lets a meeting's tutor and student read its row; the table-wide grant also handed them
-- the passcode column through Supabase's Data API (PostgREST), so anything holding a user's
-- access token (a leaked token, a browser extension) could read it without the lockout ever
-- seeing a guess. Users now get every column but the passcode: the meeting service reads and
-- checks the passcode as service_role only. (The lockout counters moved to
-- video_passcode_failures, which the API roles cannot read at all, in 20260222000000.)
--
-- Column grants are a list: a later migration that adds a column users should read must grant
-- it too (`grant select (<column>) on public.video_meetings to authenticated`). A `select *` as
-- a user is refused (42501); name the columns.

revoke select on public.video_meetings from authenticated;

do $$
declare
  v_columns text;
begin
  select string_agg(quote_ident(column_name), ', ' order by ordinal_position) into v_columns
  from information_schema.columns
  where table_schema = 'public' and table_name = 'video_meetings' and column_name <> 'passcode';
  execute format('grant select (%s) on public.video_meetings to authenticated', v_columns);
end;
$$;
