-- Canonical sync: accounts and subscriptions mirrored from reseller BSSs, their version history,
-- distributor-owned contacts and activities, and the database-level lock on synced fields.

-- Parked events wait for one object of their source (an account or a subscription).
alter table inbox
  add column waiting_for_kind text check (waiting_for_kind in ('account', 'subscription')),
  add column waiting_for_id text;
create index inbox_waiting on inbox (source_id, waiting_for_kind, waiting_for_id) where status = 'waiting';
create index inbox_object on inbox (source_id, object_id);

alter table accounts
  add column version_key text,
  add column version_sequence bigint,
  add column version_occurred_at timestamptz,
  add column closed_at timestamptz;

create table subscriptions (
  id uuid primary key default gen_random_uuid(),
  source_id uuid not null references sources (id),
  external_id text not null,
  tenant_id uuid not null references accounts (id),
  account_id uuid not null references accounts (id),
  parent_subscription_id uuid references subscriptions (id),
  sku text not null,
  product_name text,
  status text not null check (status in ('pending', 'active', 'suspended', 'cancelled', 'expired', 'unknown')),
  raw_status text not null,
  quantity integer not null check (quantity >= 0),
  billing_cycle text not null check (billing_cycle in ('monthly', 'annual', 'triennial', 'one_time')),
  term text check (term in ('P1M', 'P1Y', 'P3Y')),
  start_date date,
  end_date date,
  activation_date date,
  auto_renew boolean not null,
  characteristics jsonb not null default '[]',
  version_key text not null,
  version_sequence bigint,
  version_occurred_at timestamptz not null,
  last_inbox_id bigint references inbox (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  unique (source_id, external_id)
);
create index subscriptions_account on subscriptions (account_id);
create index subscriptions_tenant on subscriptions (tenant_id, status);
create index subscriptions_parent on subscriptions (parent_subscription_id) where parent_subscription_id is not null;
create index subscriptions_sku on subscriptions (sku);

-- History: one row per distinct version of an object, with its full state. Versions are kept
-- even when they arrive late (out of order): billing needs every state the BSS went through,
-- and before/after of each change is the previous version's state against this one's.
create table subscription_versions (
  id bigint generated always as identity primary key,
  subscription_id uuid not null references subscriptions (id),
  inbox_id bigint references inbox (id),
  event_type text not null,
  version_key text not null,
  sequence bigint,
  occurred_at timestamptz not null,
  effective_date date not null,
  state jsonb not null,
  recorded_at timestamptz not null default now(),
  unique (subscription_id, version_key)
);

create table account_versions (
  id bigint generated always as identity primary key,
  account_id uuid not null references accounts (id),
  inbox_id bigint references inbox (id),
  event_type text not null,
  version_key text not null,
  sequence bigint,
  occurred_at timestamptz not null,
  effective_date date not null,
  state jsonb not null,
  recorded_at timestamptz not null default now(),
  unique (account_id, version_key)
);

create view subscription_history as
select v.*, lag(v.state) over w as before_state
from subscription_versions v
window w as (partition by v.subscription_id order by v.sequence nulls first, v.occurred_at, v.id);

create view account_history as
select v.*, lag(v.state) over w as before_state
from account_versions v
window w as (partition by v.account_id order by v.sequence nulls first, v.occurred_at, v.id);

-- Distributor-owned records on an account.
create table contacts (
  id uuid primary key default gen_random_uuid(),
  account_id uuid not null references accounts (id),
  name text not null,
  email text,
  phone text,
  role text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index contacts_account on contacts (account_id);

create table activities (
  id uuid primary key default gen_random_uuid(),
  account_id uuid not null references accounts (id),
  kind text not null check (kind in ('email', 'task', 'event', 'document', 'case')),
  subject text not null,
  body text,
  -- task: due_at and status; event: starts_at/ends_at; document: name, url, content_type;
  -- case: status and priority. Kind-specific fields live in columns so they can be queried.
  status text,
  priority text,
  due_at timestamptz,
  starts_at timestamptz,
  ends_at timestamptz,
  document_name text,
  document_url text,
  content_type text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index activities_account on activities (account_id, kind);

-- The lock on synced fields. Only a transaction that declared itself the sync writer
-- (set_config('tiersync.writer', 'sync', true), done by the worker) may write them.
create function tiersync_is_sync_writer() returns boolean language sql stable as $$
  select coalesce(current_setting('tiersync.writer', true), '') = 'sync'
$$;

create function tiersync_lock_account_fields() returns trigger language plpgsql as $$
declare
  changed text[];
begin
  if tiersync_is_sync_writer() then
    return coalesce(new, old);
  end if;
  if tg_op = 'DELETE' then
    if old.source_id is not null then
      raise exception 'accounts synced from a reseller BSS are never deleted (close them instead)'
        using errcode = 'P0001', detail = 'field_locked';
    end if;
    return old;
  end if;
  if tg_op = 'INSERT' then
    if new.source_id is not null then
      raise exception 'only the sync may create accounts of a source' using errcode = 'P0001', detail = 'field_locked';
    end if;
    return new;
  end if;
  if old.source_id is null and new.source_id is null then
    return new; -- a tenant reseller: the distributor's own record
  end if;
  changed := array_remove(array[
    case when new.name is distinct from old.name then 'name' end,
    case when new.number is distinct from old.number then 'number' end,
    case when new.email is distinct from old.email then 'email' end,
    case when new.billing_address is distinct from old.billing_address then 'billing_address' end,
    case when new.type is distinct from old.type then 'type' end,
    case when new.parent_id is distinct from old.parent_id then 'parent' end,
    case when new.tenant_id is distinct from old.tenant_id then 'tenant_id' end,
    case when new.source_id is distinct from old.source_id then 'source_id' end,
    case when new.external_id is distinct from old.external_id then 'external_id' end,
    case when new.status is distinct from old.status then 'status' end,
    case when new.closed_at is distinct from old.closed_at then 'closed_at' end,
    case when (new.version_key, new.version_sequence, new.version_occurred_at)
      is distinct from (old.version_key, old.version_sequence, old.version_occurred_at) then 'version' end
  ], null);
  if cardinality(changed) > 0 then
    raise exception 'synced fields are read-only: %', array_to_string(changed, ', ')
      using errcode = 'P0001', detail = 'field_locked', hint = array_to_string(changed, ',');
  end if;
  return new;
end
$$;

create trigger accounts_lock before insert or update or delete on accounts
  for each row execute function tiersync_lock_account_fields();

-- Subscriptions and history are wholly the reseller's: nothing but the sync writes them.
create function tiersync_lock_synced_table() returns trigger language plpgsql as $$
begin
  if tiersync_is_sync_writer() then
    return coalesce(new, old);
  end if;
  raise exception '% is synced from the reseller BSS and read-only', tg_table_name
    using errcode = 'P0001', detail = 'field_locked';
end
$$;

create trigger subscriptions_lock before insert or update or delete on subscriptions
  for each row execute function tiersync_lock_synced_table();
create trigger subscription_versions_lock before insert or update or delete on subscription_versions
  for each row execute function tiersync_lock_synced_table();
create trigger account_versions_lock before insert or update or delete on account_versions
  for each row execute function tiersync_lock_synced_table();
-- TRUNCATE bypasses row triggers; refuse it outright.
create function tiersync_refuse_truncate() returns trigger language plpgsql as $$
begin
  raise exception '% cannot be truncated', tg_table_name using errcode = 'P0001', detail = 'field_locked';
end
$$;
create trigger subscriptions_no_truncate before truncate on subscriptions
  for each statement execute function tiersync_refuse_truncate();
create trigger accounts_no_truncate before truncate on accounts
  for each statement execute function tiersync_refuse_truncate();

-- Tenant isolation, enforced below the application: an account's parent and a subscription's
-- account and parent subscription always belong to the same tenant reseller tree.
create function tiersync_same_tenant() returns trigger language plpgsql as $$
declare
  other uuid;
begin
  if tg_table_name = 'accounts' then
    if new.parent_id is not null then
      select coalesce(tenant_id, id) into other from accounts where id = new.parent_id;
      if other is distinct from new.tenant_id then
        raise exception 'account % would leave its tenant reseller tree', new.id using errcode = 'P0001', detail = 'cross_tenant';
      end if;
    end if;
  else
    select coalesce(tenant_id, id) into other from accounts where id = new.account_id;
    if other is distinct from new.tenant_id then
      raise exception 'subscription % would leave its tenant reseller tree', new.id using errcode = 'P0001', detail = 'cross_tenant';
    end if;
    if new.parent_subscription_id is not null then
      select tenant_id into other from subscriptions where id = new.parent_subscription_id;
      if other is distinct from new.tenant_id then
        raise exception 'add-on % would leave its tenant reseller tree', new.id using errcode = 'P0001', detail = 'cross_tenant';
      end if;
    end if;
  end if;
  return new;
end
$$;
create trigger accounts_same_tenant before insert or update of parent_id, tenant_id on accounts
  for each row execute function tiersync_same_tenant();
create trigger subscriptions_same_tenant before insert or update of account_id, tenant_id, parent_subscription_id on subscriptions
  for each row execute function tiersync_same_tenant();
