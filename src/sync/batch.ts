import { randomUUID } from 'node:crypto'
import type { Account } from '../accounts/accounts.js'
import { jsonParam, type Tx } from '../db/client.js'
import type { EventRef } from '../queue/jobs.js'
import type { Subscription } from '../subscriptions/subscriptions.js'
import { type ObjectKind, type ObjectRef, objectKey } from './objects.js'
import type { StoredVersion } from './versions.js'

/**
 * An account as the batch holds it: the synced columns of `Account`, with its version. (The
 * distributor's own columns, notes, tags and the like, are never read or written by the sync.)
 */
export type AccountRow = Pick<
  Account,
  'id' | 'tenant_id' | 'parent_id' | 'source_id' | 'external_id' | 'name' | 'number' | 'email'
> &
  StoredVersion & {
    type: string
    billing_address: unknown
    status: string
    closed_at: Date | null
    version_key: string | null
  }

/**
 * A subscription as the batch holds it. A stored one is loaded with only what the rules read
 * (ids, tenant, version): an update always writes its whole new state.
 */
export type SubscriptionRow = Omit<
  Subscription,
  'version_sequence' | 'version_occurred_at' | 'created_at' | 'updated_at' | 'characteristics'
> &
  StoredVersion & { characteristics: unknown; version_key: string; last_inbox_id: string }

/** One row of an object's history (`account_versions`, `subscription_versions`). */
export type VersionRow = {
  object_id: string
  inbox_id: string | null
  event_type: string
  version_key: string
  sequence: string | number | null
  occurred_at: Date
  effective_date: string
  state: Record<string, unknown>
}

const key = (sourceId: string, kind: ObjectKind, externalId: string) =>
  objectKey({ sourceId, kind, externalId })

/**
 * The objects one batch of events reads and writes, loaded up front in a few statements, changed
 * in memory as the sync rules run event after event, and written back in a few more. Every change
 * is journaled, so an event that must wait or is refused leaves nothing behind (`mark` and
 * `rollback`): each event stays all-or-nothing while the batch commits as one transaction.
 */
export class SyncBatch {
  private readonly accounts = new Map<string, AccountRow>()
  private readonly accountsById = new Map<string, AccountRow>()
  private readonly subscriptions = new Map<string, SubscriptionRow>()
  /** Full histories, loaded for the accounts whose closing needs them. */
  private readonly accountHistory = new Map<string, VersionRow[]>()
  private readonly newAccounts: AccountRow[] = []
  private readonly newSubscriptions: SubscriptionRow[] = []
  private readonly changedRows = new Set<AccountRow | SubscriptionRow>()
  private readonly created = new WeakSet<object>()
  private readonly newAccountVersions: VersionRow[] = []
  private readonly newSubscriptionVersions: VersionRow[] = []
  private readonly changedVersions = new Set<VersionRow>()
  private readonly versionKeys = new Set<string>()
  private readonly appliedObjects = new Set<string>()
  private readonly applied: ObjectRef[] = []
  private readonly undo: (() => void)[] = []

  account(sourceId: string, externalId: string): AccountRow | undefined {
    return this.accounts.get(key(sourceId, 'account', externalId))
  }

  accountById(id: string): AccountRow | undefined {
    return this.accountsById.get(id)
  }

  subscription(sourceId: string, externalId: string): SubscriptionRow | undefined {
    return this.subscriptions.get(key(sourceId, 'subscription', externalId))
  }

  /** The account's whole history, oldest first by insertion (loaded for every account that needs it). */
  history(accountId: string): VersionRow[] {
    const h = this.accountHistory.get(accountId)
    if (!h) throw new Error(`the history of account ${accountId} was not loaded for this batch`)
    return h
  }

  /** A journal position: `rollback` to it undoes every change made since. */
  mark(): number {
    return this.undo.length
  }

  rollback(mark: number): void {
    while (this.undo.length > mark) (this.undo.pop() as () => void)()
  }

  /** How many objects were applied so far; `appliedSince` lists those applied after. */
  get appliedCount(): number {
    return this.applied.length
  }

  appliedSince(count: number): ObjectRef[] {
    return this.applied.slice(count)
  }

  addAccount(row: Omit<AccountRow, 'id'>): AccountRow {
    const created = { ...row, id: randomUUID() }
    const k = key(created.source_id as string, 'account', created.external_id as string)
    this.accounts.set(k, created)
    this.accountsById.set(created.id, created)
    this.newAccounts.push(created)
    this.created.add(created)
    this.accountHistory.set(created.id, [])
    this.undo.push(() => {
      this.accounts.delete(k)
      this.accountsById.delete(created.id)
      this.newAccounts.pop()
      this.accountHistory.delete(created.id)
    })
    return created
  }

  addSubscription(row: Omit<SubscriptionRow, 'id'>): SubscriptionRow {
    const created = { ...row, id: randomUUID() }
    const k = key(created.source_id, 'subscription', created.external_id)
    this.subscriptions.set(k, created)
    this.newSubscriptions.push(created)
    this.created.add(created)
    this.undo.push(() => {
      this.subscriptions.delete(k)
      this.newSubscriptions.pop()
    })
    return created
  }

  /** Changes fields of a row (new or stored); stored rows are written back once, at the end. */
  update<R extends AccountRow | SubscriptionRow>(row: R, patch: Partial<R>): void {
    const before: Partial<R> = {}
    for (const k of Object.keys(patch) as (keyof R)[]) before[k] = row[k]
    Object.assign(row, patch)
    const wasChanged = this.changedRows.has(row)
    if (!this.created.has(row)) this.changedRows.add(row)
    this.undo.push(() => {
      Object.assign(row, before)
      if (!wasChanged) this.changedRows.delete(row)
    })
  }

  /** Joins a version to an object's history unless its key is there already (a resend). */
  addVersion(kind: ObjectKind, version: VersionRow): void {
    const k = `${kind}\u0000${version.object_id}\u0000${version.version_key}`
    const history = kind === 'account' ? this.accountHistory.get(version.object_id) : undefined
    if (this.versionKeys.has(k) || history?.some((v) => v.version_key === version.version_key)) return
    this.versionKeys.add(k)
    const list = kind === 'account' ? this.newAccountVersions : this.newSubscriptionVersions
    list.push(version)
    this.created.add(version)
    history?.push(version)
    this.undo.push(() => {
      this.versionKeys.delete(k)
      list.pop()
      history?.pop()
    })
  }

  /** Rewrites the state a history row records (a close learning of an update that came late). */
  setVersionState(version: VersionRow, state: Record<string, unknown>): void {
    const before = version.state
    const wasChanged = this.changedVersions.has(version)
    version.state = state
    const stored = !this.created.has(version)
    if (stored) this.changedVersions.add(version)
    this.undo.push(() => {
      version.state = before
      if (stored && !wasChanged) this.changedVersions.delete(version)
    })
  }

  /** Records that an object changed, waking whatever waits for it. */
  markApplied(ref: ObjectRef): void {
    const k = objectKey(ref)
    if (this.appliedObjects.has(k)) return
    this.appliedObjects.add(k)
    this.applied.push(ref)
    this.undo.push(() => {
      this.appliedObjects.delete(k)
      this.applied.pop()
    })
  }

  /**
   * Loads what the events will read: the accounts they name with all their ancestors (for the
   * cycle check), the subscriptions they name, and the histories of the accounts being closed
   * or already closed (a close records the state before it; a late update rewrites closes).
   */
  static async load(
    tx: Tx,
    objects: readonly ObjectRef[],
    closing: (sourceId: string, externalId: string) => boolean,
  ): Promise<SyncBatch> {
    const batch = new SyncBatch()
    const distinct = [...new Map(objects.map((o) => [objectKey(o), o])).values()]
    const accounts = distinct.filter((o) => o.kind === 'account')
    const subscriptions = distinct.filter((o) => o.kind === 'subscription')
    const [accountRows, subscriptionRows] = await Promise.all([
      accounts.length === 0
        ? []
        : tx<AccountRow[]>`
          with recursive wanted(source_id, external_id) as (
            select * from unnest(${accounts.map((o) => o.sourceId)}::uuid[], ${accounts.map((o) => o.externalId)}::text[])
          ), found as (
            select a.id, a.tenant_id, a.parent_id, a.source_id, a.external_id, a.type, a.name, a.number, a.email,
              a.billing_address, a.status, a.closed_at, a.version_key, a.version_sequence, a.version_occurred_at
            from accounts a join wanted w on a.source_id = w.source_id and a.external_id = w.external_id
            union
            select p.id, p.tenant_id, p.parent_id, p.source_id, p.external_id, p.type, p.name, p.number, p.email,
              p.billing_address, p.status, p.closed_at, p.version_key, p.version_sequence, p.version_occurred_at
            from accounts p join found f on p.id = f.parent_id
          )
          select * from found`,
      subscriptions.length === 0
        ? []
        : // Only what the rules read: an update always writes the whole new state.
          tx<SubscriptionRow[]>`
          select s.id, s.source_id, s.external_id, s.tenant_id, s.version_key, s.version_sequence, s.version_occurred_at
          from subscriptions s
          join unnest(${subscriptions.map((o) => o.sourceId)}::uuid[], ${subscriptions.map((o) => o.externalId)}::text[])
            as w(source_id, external_id) on s.source_id = w.source_id and s.external_id = w.external_id`,
    ])
    for (const row of accountRows) {
      batch.accountsById.set(row.id, row)
      if (row.source_id !== null && row.external_id !== null)
        batch.accounts.set(key(row.source_id, 'account', row.external_id), row)
    }
    for (const row of subscriptionRows)
      batch.subscriptions.set(key(row.source_id, 'subscription', row.external_id), row)

    const needHistory = accountRows.filter(
      (a) =>
        a.source_id !== null &&
        a.external_id !== null &&
        (a.status === 'closed' || closing(a.source_id, a.external_id)),
    )
    for (const a of needHistory) batch.accountHistory.set(a.id, [])
    if (needHistory.length > 0) {
      const versions = await tx<VersionRow[]>`
        select account_id as object_id, inbox_id, event_type, version_key, sequence, occurred_at,
          effective_date::text, state
        from account_versions where account_id = any(${needHistory.map((a) => a.id)}::uuid[])
        order by id`
      for (const v of versions) batch.accountHistory.get(v.object_id)?.push(v)
    }
    return batch
  }

  /**
   * Writes every change back in a handful of statements, pipelined (Postgres runs them in the
   * order sent), then wakes the events parked on the objects applied. Returns the woken rows.
   */
  async flush(tx: Tx): Promise<EventRef[]> {
    const writes: Promise<unknown>[] = []
    const json = (rows: unknown[]) => jsonParam(tx, rows)
    if (this.newAccounts.length > 0) {
      writes.push(tx`
        insert into accounts (id, type, tenant_id, parent_id, source_id, external_id, name, number, email,
          billing_address, status, closed_at, version_key, version_sequence, version_occurred_at)
        select id, type, tenant_id, parent_id, source_id, external_id, name, number, email,
          billing_address, status, closed_at, version_key, version_sequence, version_occurred_at
        from rows from (jsonb_to_recordset(${json(parentsFirst(this.newAccounts, (a) => a.parent_id))}::jsonb) as (
          id uuid, type text, tenant_id uuid, parent_id uuid, source_id uuid, external_id text, name text,
          number text, email text, billing_address jsonb, status text, closed_at timestamptz, version_key text,
          version_sequence bigint, version_occurred_at timestamptz)) with ordinality as x
        order by x.ordinality`)
    }
    const changedAccounts = [...this.changedRows].filter((r): r is AccountRow => 'type' in r)
    if (changedAccounts.length > 0) {
      writes.push(tx`
        update accounts a set type = x.type, parent_id = x.parent_id, name = x.name, number = x.number,
          email = x.email, billing_address = x.billing_address, status = x.status, closed_at = x.closed_at,
          version_key = x.version_key, version_sequence = x.version_sequence,
          version_occurred_at = x.version_occurred_at, updated_at = now()
        from jsonb_to_recordset(${json(changedAccounts)}::jsonb) as x(id uuid, type text, parent_id uuid, name text,
          number text, email text, billing_address jsonb, status text, closed_at timestamptz, version_key text,
          version_sequence bigint, version_occurred_at timestamptz)
        where a.id = x.id`)
    }
    if (this.newSubscriptions.length > 0) {
      writes.push(tx`
        insert into subscriptions (id, source_id, external_id, tenant_id, account_id, parent_subscription_id, sku,
          product_name, status, raw_status, quantity, billing_cycle, term, start_date, end_date, activation_date,
          auto_renew, characteristics, version_key, version_sequence, version_occurred_at, last_inbox_id)
        select id, source_id, external_id, tenant_id, account_id, parent_subscription_id, sku,
          product_name, status, raw_status, quantity, billing_cycle, term, start_date, end_date, activation_date,
          auto_renew, characteristics, version_key, version_sequence, version_occurred_at, last_inbox_id
        from rows from (jsonb_to_recordset(${json(parentsFirst(this.newSubscriptions, (s) => s.parent_subscription_id))}::jsonb) as (
          id uuid, source_id uuid, external_id text, tenant_id uuid, account_id uuid, parent_subscription_id uuid,
          sku text, product_name text, status text, raw_status text, quantity integer, billing_cycle text, term text,
          start_date date, end_date date, activation_date date, auto_renew boolean, characteristics jsonb,
          version_key text, version_sequence bigint, version_occurred_at timestamptz, last_inbox_id bigint
        )) with ordinality as x
        order by x.ordinality`)
    }
    for (const [table, column, rows] of [
      ['account_versions', 'account_id', this.newAccountVersions],
      ['subscription_versions', 'subscription_id', this.newSubscriptionVersions],
    ] as const) {
      if (rows.length === 0) continue
      writes.push(tx`
        insert into ${tx(table)} (${tx(column)}, inbox_id, event_type, version_key, sequence, occurred_at,
          effective_date, state)
        select object_id, inbox_id, event_type, version_key, sequence, occurred_at, effective_date, state
        from rows from (jsonb_to_recordset(${json(rows)}::jsonb) as (object_id uuid, inbox_id bigint, event_type text,
          version_key text, sequence bigint, occurred_at timestamptz, effective_date date, state jsonb))
          with ordinality as x
        order by x.ordinality
        on conflict (${tx(column)}, version_key) do nothing`)
    }
    // A stored subscription's new state is the state of the version it moved to, which the
    // statement above has just recorded with the event that brought it: read from there, it is
    // sent to Postgres once, not twice. A version already in the history keeps the row first
    // recorded (stale, by an earlier event, when versions without a sequence are mixed in; or by
    // this same event before a replay under an edited mapping): only a row this transaction
    // inserted (`recorded_at` is its start time) for this event counts, and a subscription that
    // finds none makes the batch write its subscriptions in full below.
    const changedSubscriptions = [...this.changedRows].filter((r): r is SubscriptionRow => 'sku' in r)
    let fromHistory: Promise<{ count: number }> | undefined
    if (changedSubscriptions.length > 0) {
      fromHistory = tx`
        update subscriptions s set account_id = x.account_id, parent_subscription_id = x.parent_subscription_id,
          sku = v.state->'product'->>'sku', product_name = v.state->'product'->>'name', status = v.state->>'status',
          raw_status = v.state->>'raw_status', quantity = (v.state->>'quantity')::integer,
          billing_cycle = v.state->>'billing_cycle', term = v.state->>'term',
          start_date = (v.state->>'start_date')::date, end_date = (v.state->>'end_date')::date,
          activation_date = (v.state->>'activation_date')::date, auto_renew = (v.state->>'auto_renew')::boolean,
          characteristics = v.state->'characteristics', version_key = v.version_key, version_sequence = v.sequence,
          version_occurred_at = v.occurred_at, last_inbox_id = v.inbox_id, updated_at = now()
        from unnest(${changedSubscriptions.map((r) => r.id)}::uuid[], ${changedSubscriptions.map((r) => r.version_key)}::text[],
          ${changedSubscriptions.map((r) => r.last_inbox_id)}::bigint[], ${changedSubscriptions.map((r) => r.account_id)}::uuid[],
          ${changedSubscriptions.map((r) => r.parent_subscription_id)}::uuid[])
          as x(id, version_key, inbox_id, account_id, parent_subscription_id)
        join subscription_versions v on v.subscription_id = x.id and v.version_key = x.version_key
          and v.inbox_id = x.inbox_id and v.recorded_at = now()
        where s.id = x.id`
      writes.push(fromHistory)
    }
    if (this.changedVersions.size > 0) {
      writes.push(tx`
        update account_versions v set state = x.state
        from jsonb_to_recordset(${json([...this.changedVersions])}::jsonb) as x(object_id uuid, version_key text, state jsonb)
        where v.account_id = x.object_id and v.version_key = x.version_key`)
    }
    const wake =
      this.applied.length === 0
        ? Promise.resolve([])
        : tx<EventRef[]>`
          update inbox i set status = 'received', generation = i.generation + 1, enqueued_at = now(),
            waiting_for_kind = null, waiting_for_id = null
          from unnest(${this.applied.map((o) => o.sourceId)}::uuid[], ${this.applied.map((o) => o.kind)}::text[],
            ${this.applied.map((o) => o.externalId)}::text[]) as w(source_id, kind, external_id)
          where i.status = 'waiting' and i.source_id = w.source_id and i.waiting_for_kind = w.kind
            and i.waiting_for_id = w.external_id
          returning i.id::text, i.generation`
    const done = await Promise.all([...writes, wake])
    if (((await fromHistory)?.count ?? 0) < changedSubscriptions.length)
      await writeInFull(tx, changedSubscriptions)
    return done[done.length - 1] as EventRef[]
  }
}

/** Stored subscriptions' new rows, every field sent (rewrites any the history update wrote alike). */
async function writeInFull(tx: Tx, rows: SubscriptionRow[]): Promise<void> {
  await tx`
    update subscriptions s set account_id = x.account_id, parent_subscription_id = x.parent_subscription_id,
      sku = x.sku, product_name = x.product_name, status = x.status, raw_status = x.raw_status,
      quantity = x.quantity, billing_cycle = x.billing_cycle, term = x.term, start_date = x.start_date,
      end_date = x.end_date, activation_date = x.activation_date, auto_renew = x.auto_renew,
      characteristics = x.characteristics, version_key = x.version_key, version_sequence = x.version_sequence,
      version_occurred_at = x.version_occurred_at, last_inbox_id = x.last_inbox_id, updated_at = now()
    from jsonb_to_recordset(${jsonParam(tx, rows)}::jsonb) as x(id uuid, account_id uuid,
      parent_subscription_id uuid, sku text, product_name text, status text, raw_status text, quantity integer,
      billing_cycle text, term text, start_date date, end_date date, activation_date date, auto_renew boolean,
      characteristics jsonb, version_key text, version_sequence bigint, version_occurred_at timestamptz,
      last_inbox_id bigint)
    where s.id = x.id`
}

/** Rows whose parent is created in the same batch come after it (a trigger reads the parent). */
function parentsFirst<R extends { id: string }>(rows: R[], parentOf: (r: R) => string | null): R[] {
  const byId = new Map(rows.map((r) => [r.id, r]))
  const out: R[] = []
  const done = new Set<string>()
  const visit = (r: R, depth: number) => {
    if (done.has(r.id) || depth > rows.length) return
    const parent = parentOf(r)
    const p = parent === null ? undefined : byId.get(parent)
    if (p) visit(p, depth + 1)
    done.add(r.id)
    out.push(r)
  }
  for (const r of rows) visit(r, 0)
  return out
}
