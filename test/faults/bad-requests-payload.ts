import { customer, type Expect, event, type Kit, ping, signed } from './bad-requests-corpus.js'

/** JSON that is not JSON, not UTF-8, nested beyond reason, of the wrong types or with huge numbers. */
export function payloadCases(k: Kit): void {
  const { w, add, post, cases } = k
  // JSON: cut short, not JSON, not UTF-8, nested beyond reason.
  const notJson = { status: 400, code: 'invalid_json' }
  const whole = event('account.created', customer('json-1'))
  for (const cut of [1, 2, 10, 25, 50, 80, whole.length - 20, whole.length - 2, whole.length - 1])
    add(
      'json',
      `truncated at ${cut} of ${whole.length}`,
      post(whole.slice(0, cut), signed(w.a.secret, whole.slice(0, cut))),
      notJson,
    )
  for (const text of [
    '',
    ' ',
    'undefined',
    "{'type':'test.ping'}",
    '{"type":"test.ping",}',
    '{"a":NaN}',
    '{"a":1} // c',
    '{"a":1}{"a":2}',
    '\u0000',
  ])
    add(
      'json',
      `not JSON: ${JSON.stringify(text).slice(0, 30)}`,
      post(text, signed(w.a.secret, text)),
      notJson,
    )
  for (const [label, bytes] of [
    ['byte 0xff', Buffer.from([0x7b, 0xff, 0x7d])],
    ['bad continuation', Buffer.from([0x22, 0xc3, 0x28, 0x22])],
    ['overlong slash', Buffer.from([0x22, 0xc0, 0xaf, 0x22])],
    ['lone continuation byte', Buffer.from([0x22, 0x80, 0x22])],
    ['UTF-16LE', Buffer.from(`\ufeff${ping()}`, 'utf16le')],
    ['surrogate half in UTF-8', Buffer.from([0x22, 0xed, 0xa0, 0x80, 0x22])],
  ] as const)
    add('json', `not UTF-8: ${label}`, post(bytes, signed(w.a.secret, bytes)), notJson)
  for (const depth of [1000, 100_000]) {
    for (const [open, close] of [
      ['[', ']'],
      ['{"a":', '}'],
    ] as const) {
      const text = open.repeat(depth) + (open === '[' ? '' : '1') + close.repeat(depth)
      let parses = true
      try {
        JSON.parse(text)
      } catch {
        parses = false
      }
      // Valid JSON that is not an event is a 422; JSON the engine cannot parse is a 400.
      add(
        'json',
        `${open}×${depth} at the root`,
        post(text, signed(w.a.secret, text)),
        parses ? { status: 422, code: 'invalid_event' } : notJson,
      )
    }
  }

  // Wrong types in the envelope: 422 invalid_event naming the path.
  const invalid = (detailPath?: string): Expect => ({
    status: 422,
    code: 'invalid_event',
    ...(detailPath && { detailPath }),
  })
  const base = { type: 'test.ping', occurred_at: '2026-11-01T09:00:00Z', data: {} }
  const wrong: [string, unknown, string | undefined][] = [
    ['array body', [], undefined],
    ['string body', 'test.ping', undefined],
    ['null body', null, undefined],
    ['number body', 42, undefined],
    ['boolean body', true, undefined],
    ['empty object', {}, 'type'],
    ['type number', { ...base, type: 123 }, 'type'],
    ['type null', { ...base, type: null }, 'type'],
    ['type unknown', { ...base, type: 'subscription.exploded' }, 'type'],
    ['type empty', { ...base, type: '' }, 'type'],
    ['type object', { ...base, type: { type: 'test.ping' } }, 'type'],
    ['occurred_at number', { ...base, occurred_at: 1_700_000_000 }, 'occurred_at'],
    ['occurred_at words', { ...base, occurred_at: 'yesterday' }, 'occurred_at'],
    ['occurred_at month 13', { ...base, occurred_at: '2026-13-01T00:00:00Z' }, 'occurred_at'],
    ['occurred_at date only', { ...base, occurred_at: '2026-11-01' }, 'occurred_at'],
    ['occurred_at missing', { type: 'test.ping', data: {} }, 'occurred_at'],
    ['sequence string', { ...base, sequence: '7' }, 'sequence'],
    ['sequence negative', { ...base, sequence: -1 }, 'sequence'],
    ['sequence fraction', { ...base, sequence: 1.5 }, 'sequence'],
    ['sequence boolean', { ...base, sequence: true }, 'sequence'],
    ['data array', { ...base, data: [] }, 'data'],
    ['data string', { ...base, data: 'x' }, 'data'],
    ['data null', { ...base, data: null }, 'data'],
    ['data missing', { type: 'test.ping', occurred_at: base.occurred_at }, 'data'],
    ['NUL in the object id', { ...base, type: 'account.created', data: { id: 'a\u0000b' } }, 'data.id'],
  ]
  for (const [label, value, path] of wrong) {
    const text = JSON.stringify(value)
    add('types', label, post(text, signed(w.a.secret, text)), invalid(path))
  }

  // Huge numbers where the envelope has numbers, and years Postgres cannot store.
  const huge: [string, string, string][] = [
    ['sequence 1e300', '1e300', 'sequence'],
    ['sequence 2^53', '9007199254740992', 'sequence'],
    ['sequence 30 digits', '123456789012345678901234567890', 'sequence'],
    ['sequence 5000 digits', '9'.repeat(5000), 'sequence'],
    ['sequence -1e308', '-1e308', 'sequence'],
    ['sequence 1e-300', '1e-300', 'sequence'],
  ]
  for (const [label, literal, path] of huge) {
    const text = `{"type":"test.ping","occurred_at":"2026-11-01T09:00:00Z","sequence":${literal},"data":{}}`
    add('numbers', label, post(text, signed(w.a.secret, text)), invalid(path))
  }
  for (const at of [
    '+275760-09-13T00:00:00.000Z',
    '10000-01-01T00:00:00Z',
    '0000-01-01T00:00:00Z',
    '-000001-01-01T00:00:00Z',
  ]) {
    const text = JSON.stringify({ ...base, occurred_at: at })
    add('numbers', `occurred_at ${at}`, post(text, signed(w.a.secret, text)), invalid('occurred_at'))
  }
  for (const [label, quantity] of [
    ['quantity 1e308', 1e308],
    ['quantity 10,000,001', 10_000_001],
    ['quantity -1', -1],
  ] as const) {
    const id = `huge-q-${cases.length}`
    const text = event('subscription.created', {
      id,
      account_id: 'a-cust',
      product: { sku: 'X' },
      status: 'active',
      paid: true,
      quantity,
      billing_cycle: 'monthly',
    })
    // The envelope is fine, so it is acknowledged; the worker refuses the state and makes nothing.
    add(
      'numbers',
      `${label} (in data: acknowledged, never applied)`,
      post(text, signed(w.a.secret, text)),
      { status: 202 },
      { kind: 'never-applied', externalId: id },
    )
  }
}
