-- Billing: price book, invoices with a ledger of charge lines, gapless numbering, credit notes.

-- Per tenant reseller: its tax rate (the tier and currency columns exist since 0001).
alter table accounts add column tax_rate numeric(7, 6) not null default 0 check (tax_rate >= 0 and tax_rate < 1);

create table billing_settings (
  id boolean primary key default true check (id),
  rounding_stage text not null default 'line' check (rounding_stage in ('line', 'unit')),
  rounding_mode text not null default 'half_up' check (rounding_mode in ('half_up', 'half_even', 'down')),
  -- Finalized months this far back are rechecked by a run; differences become adjustments.
  lookback_months integer not null default 12 check (lookback_months between 0 and 120),
  updated_at timestamptz not null default now()
);
insert into billing_settings default values;

create table reseller_tiers (
  name text primary key check (name ~ '^[a-z0-9_-]{1,50}$'),
  discount numeric(7, 6) not null check (discount >= 0 and discount <= 1),
  updated_at timestamptz not null default now()
);
insert into reseller_tiers (name, discount) values ('basic', 0), ('premium', 0);

-- List prices per billing cycle, effective from a date; the row in force at a cycle's start wins.
create table prices (
  id uuid primary key default gen_random_uuid(),
  sku text not null,
  billing_cycle text not null check (billing_cycle in ('monthly', 'annual', 'triennial', 'one_time')),
  term text check (term in ('P1M', 'P1Y', 'P3Y')),
  currency char(3) not null,
  unit_price numeric(20, 6) not null check (unit_price >= 0),
  effective_from date not null,
  created_at timestamptz not null default now(),
  unique nulls not distinct (sku, billing_cycle, term, currency, effective_from)
);

-- A price for one tenant reseller that replaces list price and tier discount.
create table price_overrides (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references accounts (id),
  sku text not null,
  billing_cycle text not null check (billing_cycle in ('monthly', 'annual', 'triennial', 'one_time')),
  term text check (term in ('P1M', 'P1Y', 'P3Y')),
  currency char(3) not null,
  unit_price numeric(20, 6) not null check (unit_price >= 0),
  effective_from date not null,
  created_at timestamptz not null default now(),
  unique nulls not distinct (tenant_id, sku, billing_cycle, term, currency, effective_from)
);

create table invoice_runs (
  id uuid primary key default gen_random_uuid(),
  period char(7) not null check (period ~ '^\d{4}-(0[1-9]|1[0-2])$'),
  source_id uuid references sources (id),
  dry_run boolean not null default false,
  status text not null default 'queued' check (status in ('queued', 'running', 'succeeded', 'failed')),
  requested_by uuid,
  report jsonb,
  error text,
  created_at timestamptz not null default now(),
  started_at timestamptz,
  finished_at timestamptz
);

create table invoices (
  id uuid primary key default gen_random_uuid(),
  tenant_id uuid not null references accounts (id),
  period char(7) not null check (period ~ '^\d{4}-(0[1-9]|1[0-2])$'),
  currency char(3) not null,
  status text not null default 'draft' check (status in ('draft', 'finalized', 'void')),
  number text unique,
  subtotal_minor bigint not null default 0,
  tax_rate numeric(7, 6) not null default 0,
  tax_minor bigint not null default 0,
  total_minor bigint not null default 0,
  last_run_id uuid references invoice_runs (id),
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  finalized_at timestamptz,
  voided_at timestamptz,
  check ((status = 'draft') = (number is null) or status = 'void')
);
-- One open draft and one finalized invoice per reseller and month, whatever the timing of runs.
create unique index invoices_one_draft on invoices (tenant_id, period) where status = 'draft';
create unique index invoices_one_final on invoices (tenant_id, period) where status = 'finalized';

create table invoice_lines (
  id bigint generated always as identity primary key,
  -- Checked per statement by invoice_lines_drafts_only_* below, not by a per-row foreign key: the
  -- row check's cached plan, made while `invoices` was small, turned into a scan of all invoices
  -- per line as a run's first month grew the table (a 1M-subscription run spent most of its time
  -- there).
  invoice_id uuid not null,
  -- md5 of (subscription, charge type, reference, charge cycle, leg): what makes a charge the same
  -- charge (src/billing/charges.ts lineKey); a uuid keeps the unique indexes small.
  line_key uuid not null,
  -- No foreign keys to subscriptions and accounts: neither is ever deleted (triggers refuse it),
  -- a run writes lines only for rows it has just read in the same transaction, and the two
  -- per-row checks halved the speed of an invoice run's inserts (npm run bench).
  subscription_id uuid not null,
  account_id uuid not null,
  charge_type text not null
    check (charge_type in ('new', 'cycle_charge', 'renew', 'add_quantity', 'remove_quantity', 'convert', 'cancel')),
  reference_id text not null,
  event_date date not null,
  charge_start date not null,
  charge_end date not null,
  sku text not null,
  product_name text,
  unit_price numeric(20, 6),
  effective_unit_price numeric(30, 12),
  quantity integer not null,
  amount_minor bigint not null,
  currency char(3) not null,
  -- A correction of a line already on a finalized invoice: amount is the difference.
  adjustment boolean not null default false,
  unpriced boolean not null default false,
  void boolean not null default false,
  created_at timestamptz not null default now(),
  unique (invoice_id, line_key)
);
-- Database uniqueness, not luck, prevents double billing: a charge is billed once, corrections
-- are adjustment lines.
create unique index invoice_lines_billed_once on invoice_lines (line_key) where not adjustment and not void;
create index invoice_lines_subscription on invoice_lines (subscription_id);

-- Gapless numbers per document kind and year: the counter row is locked until the transaction
-- that takes a number commits, and a rollback gives the number back.
create table document_counters (
  kind text not null,
  year integer not null,
  last integer not null,
  primary key (kind, year)
);

create table credit_notes (
  id uuid primary key default gen_random_uuid(),
  number text not null unique,
  invoice_id uuid not null references invoices (id),
  tenant_id uuid not null references accounts (id),
  currency char(3) not null,
  reason text,
  total_minor bigint not null check (total_minor > 0),
  created_at timestamptz not null default now()
);

create table credit_note_lines (
  id bigint generated always as identity primary key,
  credit_note_id uuid not null references credit_notes (id),
  invoice_line_id bigint not null references invoice_lines (id),
  amount_minor bigint not null check (amount_minor > 0)
);
create index credit_note_lines_line on credit_note_lines (invoice_line_id);

-- A credit note can never credit more than its line, whoever writes it.
create function tiersync_credit_within_line() returns trigger language plpgsql as $$
declare
  line_amount bigint;
  credited bigint;
begin
  select amount_minor into line_amount from invoice_lines where id = new.invoice_line_id for update;
  select coalesce(sum(amount_minor), 0) into credited from credit_note_lines where invoice_line_id = new.invoice_line_id;
  if credited + new.amount_minor > greatest(line_amount, 0) then
    raise exception 'credit of % exceeds what is left on line % (% of %)', new.amount_minor, new.invoice_line_id,
      greatest(line_amount, 0) - credited, line_amount using errcode = 'P0001', detail = 'credit_exceeds_line';
  end if;
  return new;
end
$$;
create trigger credit_note_lines_within_line before insert on credit_note_lines
  for each row execute function tiersync_credit_within_line();
create function tiersync_refuse_change() returns trigger language plpgsql as $$
begin
  raise exception '% rows are immutable', tg_table_name using errcode = 'P0001', detail = 'immutable';
end
$$;
create trigger credit_note_lines_immutable before update or delete on credit_note_lines
  for each row execute function tiersync_refuse_change();

-- Only drafts change: lines of a finalized or void invoice are never written again (except the
-- void flag set when their invoice is voided). Statement-level with transition tables: one check
-- per statement, however many lines a run writes.
create function tiersync_lines_of_drafts_only() returns trigger language plpgsql as $$
declare
  bad uuid;
begin
  if tg_op = 'INSERT' then
    select n.invoice_id into bad from (select distinct invoice_id from new_lines) n
      left join invoices i on i.id = n.invoice_id
      where i.id is null or i.status <> 'draft' limit 1;
  elsif tg_op = 'DELETE' then
    select i.id into bad from (select distinct invoice_id from old_lines) o join invoices i on i.id = o.invoice_id
      where i.status <> 'draft' limit 1;
  else
    select n.invoice_id into bad from new_lines n join old_lines o on o.id = n.id left join invoices i on i.id = n.invoice_id
      where i.id is null or i.status <> 'draft'
        and not (i.status = 'void' and n.void and not o.void
                 and (n.amount_minor, n.line_key, n.invoice_id) = (o.amount_minor, o.line_key, o.invoice_id))
      limit 1;
  end if;
  if bad is not null then
    raise exception 'invoice % is missing or not a draft: its lines cannot change', bad
      using errcode = 'P0001', detail = 'invoice_not_draft';
  end if;
  return null;
end
$$;
create trigger invoice_lines_drafts_only_insert after insert on invoice_lines
  referencing new table as new_lines for each statement execute function tiersync_lines_of_drafts_only();
create trigger invoice_lines_drafts_only_update after update on invoice_lines
  referencing new table as new_lines old table as old_lines for each statement execute function tiersync_lines_of_drafts_only();
create trigger invoice_lines_drafts_only_delete after delete on invoice_lines
  referencing old table as old_lines for each statement execute function tiersync_lines_of_drafts_only();

create function tiersync_invoice_lifecycle() returns trigger language plpgsql as $$
begin
  if old.status = 'draft' then
    return new;
  end if;
  if old.status = 'finalized' and new.status = 'void'
     and (new.number, new.subtotal_minor, new.tax_minor, new.total_minor, new.period, new.tenant_id)
       = (old.number, old.subtotal_minor, old.tax_minor, old.total_minor, old.period, old.tenant_id) then
    return new;
  end if;
  raise exception 'invoice % is %: it cannot change', old.id, old.status using errcode = 'P0001', detail = 'invoice_not_draft';
end
$$;
create trigger invoices_lifecycle before update on invoices
  for each row execute function tiersync_invoice_lifecycle();
