-- Any reseller BSS (issue 5): per-source verification scheme, the BSS API tiersync calls back
-- (thin notifications, reconciliation), declarative mappings, and what a fetch brought back.

-- The scheme and its settings (src/verify/schemes.ts validates them): was the scheme's name.
alter table sources alter column verification drop default;
alter table sources alter column verification type jsonb using jsonb_build_object('scheme', verification);
alter table sources alter column verification set default '{"scheme": "standard-webhooks"}';
alter table sources
  add constraint sources_verification_scheme check (verification ? 'scheme'),
  -- The BSS API: base URL in clear, credentials sealed like the webhook secrets (AES-256-GCM).
  add column api_base_url text check (api_base_url ~ '^https?://'),
  add column api_credentials_enc bytea,
  add column api_credentials_type text,
  -- `format: mapping`: the JSONata expression (validated when saved) turning a payload into events.
  add column mapping jsonb,
  -- Reconciliation: null = never scheduled; how often, and when it last finished.
  add column reconcile_every_minutes integer check (reconcile_every_minutes between 5 and 10080),
  add column reconciled_at timestamptz,
  add column reconcile_report jsonb;

alter table inbox
  -- `webhook`: a delivery; `reconcile`: drift a reconciliation found (its body is canonical).
  -- A constant default adds the column without rewriting the table.
  add column origin text not null default 'webhook',
  -- Thin notifications: what the BSS answered, by request key, kept so a retried apply never
  -- fetches twice and the events API can show what the mapping read.
  add column fetched jsonb,
  add column fetched_at timestamptz;
-- Enforced on every new or changed row; not validated against existing rows, which all hold the
-- default, so adding it does not scan the inbox under its exclusive lock.
alter table inbox add constraint inbox_origin check (origin in ('webhook', 'reconcile')) not valid;
