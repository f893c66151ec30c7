/** Plain-text renderings of what the demo shows: the hierarchy, a history, an invoice. */

export type TreeNode = {
  name: string
  type: string
  external_id: string | null
  status: string
  subscriptions: number
  children: TreeNode[]
}

export function renderTree(root: TreeNode): string {
  const lines: string[] = []
  const label = (n: TreeNode) => {
    const kind = n.type === 'tenant_reseller' ? 'tenant reseller' : n.type
    const subs =
      n.subscriptions > 0 ? `, ${n.subscriptions} subscription${n.subscriptions > 1 ? 's' : ''}` : ''
    return `${n.name} (${kind}${subs})`
  }
  const walk = (n: TreeNode, prefix: string, last: boolean, top: boolean) => {
    lines.push(top ? label(n) : `${prefix}${last ? '└── ' : '├── '}${label(n)}`)
    const next = top ? '' : `${prefix}${last ? '    ' : '│   '}`
    for (const [i, c] of n.children.entries()) walk(c, next, i === n.children.length - 1, false)
  }
  lines.push('Distributor')
  walk(root, '', true, true)
  return lines.map((l, i) => (i === 0 ? l : `  ${l}`)).join('\n')
}

export type HistoryEntry = {
  event_type: string
  sequence: string | null
  occurred_at: string
  changes: Record<string, { before: unknown; after: unknown }> | null
}

export function renderHistory(externalId: string, history: HistoryEntry[]): string {
  const rows = history.map((h) => {
    const shown = Object.entries(h.changes ?? {}).filter(([k]) =>
      ['quantity', 'status', 'end_date'].includes(k),
    )
    const created = shown.length > 0 && shown.every(([, v]) => v.before === null || v.before === undefined)
    const changes = created
      ? shown.map(([k, v]) => `${k} ${fmt(v.after)}`).join(', ')
      : shown.map(([k, v]) => `${k} ${fmt(v.before)} -> ${fmt(v.after)}`).join(', ')
    return `  ${h.occurred_at.slice(0, 10)}  seq ${h.sequence ?? '-'}  ${h.event_type.padEnd(24)} ${changes || '(no change to billed fields)'}`
  })
  return [`History of ${externalId}:`, ...rows].join('\n')
}

function fmt(v: unknown): string {
  return typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)
}

export type Invoice = {
  number: string | null
  status: string
  period: string
  currency: string
  tenant: { name: string }
  subtotal: string
  tax_rate: string
  tax: string
  total: string
  groups: {
    reseller: { name: string } | null
    customer: { name: string }
    subtotal: string
    line_ids: string[]
  }[]
  lines: {
    id: string
    charge_type: string
    sku: string
    product_name: string | null
    quantity: number
    amount: string
    event_date: string
  }[]
}

export function renderInvoice(inv: Invoice): string {
  const byId = new Map(inv.lines.map((l) => [l.id, l]))
  const out = [
    `Draft invoice ${inv.period} for ${inv.tenant.name} (${inv.status}${inv.number ? ` ${inv.number}` : ''}):`,
  ]
  for (const g of inv.groups) {
    out.push(`  ${g.reseller ? `${g.reseller.name} > ` : ''}${g.customer.name}`)
    for (const id of g.line_ids) {
      const l = byId.get(id)
      if (!l) continue
      const what = `${l.charge_type} ${l.product_name ?? l.sku} x${l.quantity}`
      out.push(`    ${l.event_date}  ${what.padEnd(52)} ${l.amount.padStart(10)} ${inv.currency}`)
    }
    out.push(`    ${'subtotal'.padStart(64)} ${g.subtotal.padStart(10)} ${inv.currency}`)
  }
  out.push(`  Subtotal ${inv.subtotal} ${inv.currency}`)
  out.push(`  Tax (${Number(inv.tax_rate) * 100}%) ${inv.tax} ${inv.currency}`)
  out.push(`  Total ${inv.total} ${inv.currency}`)
  return out.join('\n')
}
