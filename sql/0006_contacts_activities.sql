-- Distributor-owned contacts and activities on an account (admin API): the columns the API
-- exposes that 0002 lacked, the per-kind invariants of an activity, and the keyset indexes the
-- lists page through. No route wrote these tables before, so the checks hold for every row.

alter table contacts
  add column notes text,
  add constraint contacts_name_present check (btrim(name) <> '');

alter table activities
  add column from_address text,
  add column to_addresses text[] not null default '{}',
  -- A document has a name, not a subject.
  alter column subject drop not null;

-- Each kind carries its own fields and nothing else, so PATCH (same kind only) can never leave
-- a task with a case's priority, and the kind-specific filters mean one thing.
alter table activities
  add constraint activities_subject check ((kind = 'document') = (subject is null)),
  add constraint activities_status check (
    case kind
      when 'task' then status in ('open', 'done', 'cancelled')
      when 'case' then status in ('open', 'pending', 'closed')
      else status is null
    end),
  add constraint activities_priority check (
    case kind when 'case' then priority in ('low', 'normal', 'high', 'urgent') else priority is null end),
  add constraint activities_email_fields check (
    kind = 'email' or (from_address is null and to_addresses = '{}')),
  add constraint activities_task_fields check (kind = 'task' or due_at is null),
  add constraint activities_event_window check (
    case kind
      when 'event' then starts_at is not null and ends_at is not null and ends_at >= starts_at
      else starts_at is null and ends_at is null
    end),
  add constraint activities_document_fields check (
    case kind
      when 'document' then document_name is not null and document_url ~ '^https?://'
      else document_name is null and document_url is null and content_type is null
    end),
  add constraint activities_body_not_on_documents check (kind <> 'document' or body is null);

-- Keyset pagination: (account, sort column, id) in either direction.
create index contacts_account_created on contacts (account_id, created_at, id);
create index activities_account_created on activities (account_id, created_at, id);
create index activities_account_due on activities (account_id, due_at, id) where due_at is not null;
