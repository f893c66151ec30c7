-- The inbox row an object's history (and its current row) came from is a plain reference, not a
-- foreign key (issue 8). Only the sync writes these columns (the lock triggers refuse anyone
-- else), always with the id of the row it is applying in the same transaction, and inbox rows are
-- never deleted; the constraint checked nothing the sync could get wrong, yet cost a lookup and
-- a row lock of the inbox row per version and per subscription written: ~8 µs of Postgres CPU
-- per applied event, measured with `npm run bench` (apply). It would also have kept a future
-- inbox retention from deleting old rows whose history stays.
alter table subscription_versions drop constraint subscription_versions_inbox_id_fkey;
alter table account_versions drop constraint account_versions_inbox_id_fkey;
alter table subscriptions drop constraint subscriptions_last_inbox_id_fkey;
