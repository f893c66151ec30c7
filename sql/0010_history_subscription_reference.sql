-- A subscription's history refers to it by a plain column, not a foreign key (issue 8), and a
-- subscription can never be deleted, not even by the sync: that is what keeps every history row's
-- subscription there, for good. Only the sync writes the history (the lock triggers refuse anyone
-- else), always for a subscription its batch holds: loaded under the object's lock, or created by
-- an earlier statement of the same transaction. The constraint checked nothing the sync could get
-- wrong, yet cost a lookup and a lock of the subscription row (with its WAL record) for each
-- version written: measured with `npm run bench` (apply) in 6 interleaved pairs, Postgres used
-- 5-9 µs less per event in 5 of them, and events/s were higher in 5.
alter table subscription_versions drop constraint subscription_versions_subscription_id_fkey;

create function tiersync_refuse_delete() returns trigger language plpgsql as $$
begin
  raise exception '% rows are never deleted: their history refers to them', tg_table_name
    using errcode = 'P0001', detail = 'field_locked';
end
$$;
create trigger subscriptions_never_deleted before delete on subscriptions
  for each statement execute function tiersync_refuse_delete();
