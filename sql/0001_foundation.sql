-- Foundation: API keys, tenant reseller accounts, sources and their secrets, the webhook inbox.

create table api_keys (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(name) between 1 and 200),
  role text not null check (role in ('admin', 'billing', 'viewer')),
  -- sha256 of the key: keys are 256-bit random, so a fast hash is enough and lookups stay O(1).
  key_hash bytea not null unique,
  key_prefix text not null,
  created_at timestamptz not null default now(),
  last_used_at timestamptz,
  revoked_at timestamptz
);

create table accounts (
  id uuid primary key default gen_random_uuid(),
  type text not null check (type in ('tenant_reseller', 'reseller', 'customer')),
  -- The tenant reseller whose tree this account belongs to; null only for a tenant reseller itself.
  tenant_id uuid references accounts (id),
  parent_id uuid references accounts (id),
  source_id uuid,
  external_id text,
  name text not null,
  number text,
  email text,
  billing_address jsonb,
  tier text,
  currency char(3),
  status text not null default 'active' check (status in ('active', 'closed')),
  notes text,
  tags text[] not null default '{}',
  custom_attributes jsonb not null default '{}',
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  check ((type = 'tenant_reseller') = (tenant_id is null)),
  check ((source_id is null) = (external_id is null))
);
create unique index accounts_source_external on accounts (source_id, external_id) where source_id is not null;
create index accounts_parent on accounts (parent_id);
create index accounts_tenant on accounts (tenant_id);

create table sources (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(name) between 1 and 200),
  format text not null,
  verification text not null default 'standard-webhooks',
  account_id uuid not null references accounts (id),
  enabled boolean not null default true,
  -- null: the service default (RATE_LIMIT_PER_MINUTE); 0: no limit.
  rate_limit_per_minute integer check (rate_limit_per_minute >= 0),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);
create index sources_account on sources (account_id);
alter table accounts add foreign key (source_id) references sources (id);

create table source_secrets (
  id uuid primary key default gen_random_uuid(),
  source_id uuid not null references sources (id),
  -- AES-256-GCM: iv (12) || tag (16) || ciphertext, under SECRETS_KEY.
  secret_enc bytea not null,
  created_at timestamptz not null default now(),
  -- null: active until rotated; set on rotation to the end of the grace period.
  expires_at timestamptz
);
create index source_secrets_source on source_secrets (source_id);

create table inbox (
  id bigint generated always as identity primary key,
  source_id uuid not null references sources (id),
  webhook_id text not null,
  event_type text not null,
  occurred_at timestamptz,
  -- The object the event is about, as the reseller BSS names it (for search and per-object order).
  object_id text,
  received_at timestamptz not null default now(),
  -- The raw body exactly as verified: the signature covers these bytes.
  body text not null,
  request_id text,
  status text not null default 'received'
    check (status in ('received', 'processing', 'applied', 'stale', 'waiting', 'ignored_unpaid', 'failed')),
  attempts integer not null default 0,
  -- Bumped whenever a settled row is queued again (replay, wake-up): part of the job id, so the
  -- new job is not mistaken for the finished one BullMQ may still keep.
  generation integer not null default 0,
  enqueued_at timestamptz,
  processed_at timestamptz,
  error text,
  error_details jsonb,
  unique (source_id, webhook_id)
);
-- The relay scans only rows that are not settled yet.
create index inbox_unsettled on inbox (received_at) where status in ('received', 'processing');
create index inbox_source_status on inbox (source_id, status, received_at);
