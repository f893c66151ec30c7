-- The sync writes rows in batches (issue 8): the same guarantees, checked for less.
--
-- Subscriptions and their history are wholly the reseller's, and the check is about the writer,
-- not the row: once per statement is enough. (A statement-level trigger fires even when no row
-- matches, so anyone else is refused even an update that would change nothing.)
drop trigger subscriptions_lock on subscriptions;
create trigger subscriptions_lock before insert or update or delete on subscriptions
  for each statement execute function tiersync_lock_synced_table();
drop trigger subscription_versions_lock on subscription_versions;
create trigger subscription_versions_lock before insert or update or delete on subscription_versions
  for each statement execute function tiersync_lock_synced_table();
drop trigger account_versions_lock on account_versions;
create trigger account_versions_lock before insert or update or delete on account_versions
  for each statement execute function tiersync_lock_synced_table();

-- Accounts mix synced and distributor-owned rows, so their check stays per row, but the sync's
-- own writes skip the function call (the condition is evaluated without it).
drop trigger accounts_lock on accounts;
create trigger accounts_lock before insert or update or delete on accounts
  for each row when (not tiersync_is_sync_writer()) execute function tiersync_lock_account_fields();

-- Tenant isolation: every insert is checked; an update only when it moves the row.
drop trigger accounts_same_tenant on accounts;
create trigger accounts_same_tenant before insert on accounts
  for each row execute function tiersync_same_tenant();
create trigger accounts_same_tenant_move before update of parent_id, tenant_id on accounts
  for each row when (old.parent_id is distinct from new.parent_id or old.tenant_id is distinct from new.tenant_id)
  execute function tiersync_same_tenant();
drop trigger subscriptions_same_tenant on subscriptions;
create trigger subscriptions_same_tenant before insert on subscriptions
  for each row execute function tiersync_same_tenant();
create trigger subscriptions_same_tenant_move before update of account_id, tenant_id, parent_subscription_id on subscriptions
  for each row when (old.account_id is distinct from new.account_id or old.tenant_id is distinct from new.tenant_id
    or old.parent_subscription_id is distinct from new.parent_subscription_id)
  execute function tiersync_same_tenant();

-- Room on each page for the new version of a row, so an update that changes no indexed column
-- stays on its page (a HOT update: no index entries to add).
alter table subscriptions set (fillfactor = 80);
alter table accounts set (fillfactor = 80);
