import type { Sql } from '../src/db/client.js'

/**
 * Generates `subscriptions` paid subscriptions in `tenants` reseller trees (10 customers each),
 * set-based in a handful of statements, as the sync writer would have left them. Every
 * subscription has its purchase version (start dates spread over 20 months, a fifth billed
 * annually); in the billed month (2026-05) one in five changes quantity and one in twenty is
 * cancelled: a busy month for a CSP reseller.
 */
export async function generateBillingData(sql: Sql, tenants: number, subscriptions: number): Promise<void> {
  const perTenant = Math.ceil(subscriptions / tenants)
  await sql.begin(async (tx) => {
    await tx`select set_config('tiersync.writer', 'sync', true)`
    await tx`
      insert into prices (sku, billing_cycle, term, currency, unit_price, effective_from)
      select 'SKU-' || n, c, null, 'EUR', (5 + n * 1.5)::numeric(20, 6), '2020-01-01'
      from generate_series(0, 19) n, unnest(array['monthly', 'annual']) c`
    await tx`
      insert into accounts (id, type, name, number, tier, currency)
      select md5('tenant' || t)::uuid, 'tenant_reseller', 'Reseller ' || t, 'R-' || t,
        case when t % 3 = 0 then 'premium' else 'basic' end, 'EUR'
      from generate_series(1, ${tenants}) t`
    await tx`
      insert into sources (id, name, format, account_id)
      select md5('source' || t)::uuid, 'BSS ' || t, 'canonical', md5('tenant' || t)::uuid
      from generate_series(1, ${tenants}) t`
    await tx`
      insert into accounts (id, type, tenant_id, parent_id, source_id, external_id, name, status, version_key, version_occurred_at)
      select md5('cust' || t || '-' || c)::uuid, 'customer', md5('tenant' || t)::uuid, md5('tenant' || t)::uuid,
        md5('source' || t)::uuid, 'c' || c, 'Customer ' || t || '-' || c, 'active', 't:0', '2026-01-01'
      from generate_series(1, ${tenants}) t, generate_series(1, 10) c`
    await tx`
      insert into subscriptions (id, source_id, external_id, tenant_id, account_id, sku, product_name, status, raw_status,
        quantity, billing_cycle, term, start_date, end_date, auto_renew, version_key, version_sequence, version_occurred_at)
      select md5('sub' || t || '-' || s)::uuid, md5('source' || t)::uuid, 's' || s, md5('tenant' || t)::uuid,
        md5('cust' || t || '-' || (s % 10 + 1))::uuid, 'SKU-' || (s % 20), 'Product ' || (s % 20),
        'active', 'active', 5 + s % 7,
        case when s % 5 = 0 then 'annual' else 'monthly' end, 'P1Y',
        ('2025-01-01'::date + (s * 7 % 600)), null, true, 's:3', 3, '2026-06-01'
      from generate_series(1, ${tenants}) t, generate_series(1, ${perTenant}) s`
    await tx`
      insert into subscription_versions (subscription_id, event_type, version_key, sequence, occurred_at, effective_date, state)
      select s.id, v.event_type, 's:' || v.seq, v.seq, v.at, v.at::date,
        jsonb_build_object('id', s.external_id, 'account_id', 'c', 'product', jsonb_build_object('sku', s.sku, 'name', s.product_name),
          'status', v.status, 'paid', true, 'quantity', v.quantity, 'billing_cycle', s.billing_cycle, 'term', s.term,
          'start_date', s.start_date, 'end_date', null, 'auto_renew', true)
      from subscriptions s
      cross join lateral (
        select 1 as seq, 'subscription.created' as event_type, s.start_date::timestamptz as at, 'active' as status, s.quantity - 2 as quantity
        union all
        select 2, 'subscription.updated', '2026-05-12'::timestamptz, 'active', s.quantity
        where hashtext(s.external_id || s.tenant_id::text) % 5 = 0
        union all
        select 3, 'subscription.cancelled', '2026-05-20'::timestamptz, 'cancelled', s.quantity
        where hashtext(s.tenant_id::text || s.external_id) % 20 = 0
      ) v`
  })
  // What autovacuum leaves on a live database (hint bits set, visibility map, statistics); this
  // machine runs Postgres with autovacuum off, so the bench does it once, outside the timing.
  await sql`vacuum analyze`
}
