import { createHmac, randomBytes } from 'node:crypto'
import { type Kit, nowSeconds, ping, sign, signed } from './bad-requests-corpus.js'

/** Signatures, timestamps, headers and sizes: everything checked before the body is read as JSON. */
export function deliveryCases(k: Kit): void {
  const { w, add, hook, post, invalidSig } = k
  // Signatures: random, for other bytes, cut short, malformed, by another or a rotated-out secret.
  for (const n of [1, 8, 16, 31, 32, 33, 48, 64])
    add(
      'signature',
      `random ${n} bytes`,
      post(ping(), signed(w.a.secret, '', { signature: `v1,${randomBytes(n).toString('base64')}` })),
      invalidSig,
    )
  for (const at of [0, 1, 10, 40]) {
    const body = ping()
    const other = `${body.slice(0, at)}${body[at] === ' ' ? '_' : ' '}${body.slice(at + 1)}`
    add('signature', `signed body differs at byte ${at}`, post(other, signed(w.a.secret, body)), invalidSig)
  }
  for (const k of [0, 1, 2]) {
    const body = ping()
    const ts = String(nowSeconds())
    add(
      'signature',
      `signed for another id #${k}`,
      post(body, {
        ...signed(w.a.secret, body, { ts }),
        'webhook-signature': sign(w.a.secret, `other_${k}`, ts, body),
      }),
      invalidSig,
    )
    add(
      'signature',
      `signed for another timestamp #${k}`,
      post(
        body,
        signed(w.a.secret, body, {
          id: `ts_${k}`,
          ts,
          signature: sign(w.a.secret, `ts_${k}`, String(Number(ts) - 1 - k), body),
        }),
      ),
      invalidSig,
    )
  }
  // 42 of 44: bits of the MAC are gone (43 would only drop the '=' padding: the same bytes).
  for (const len of [1, 5, 10, 20, 30, 42]) {
    const body = ping()
    const h = signed(w.a.secret, body)
    add(
      'signature',
      `valid signature cut to ${len} chars`,
      post(body, { ...h, 'webhook-signature': (h['webhook-signature'] ?? '').slice(0, 3 + len) }),
      invalidSig,
    )
  }
  for (const [label, mangle] of [
    ['v2 scheme', (s: string) => s.replace(/^v1,/, 'v2,')],
    ['upper-case V1', (s: string) => s.replace(/^v1,/, 'V1,')],
    ['no comma', (s: string) => s.replace(/^v1,/, 'v1')],
    ['no version', (s: string) => s.replace(/^v1,/, ',')],
    ['semicolon', (s: string) => s.replace(/^v1,/, 'v1;')],
    ['only the prefix', () => 'v1,'],
    ['hex instead of base64', (s: string) => `v1,${Buffer.from(s.slice(3), 'base64').toString('hex')}`],
    ['three wrong ones', () => ['v1,AAAA', 'v1,BBBB', 'v1,CCCC'].join(' ')],
  ] as const) {
    const body = ping()
    const h = signed(w.a.secret, body)
    add(
      'signature',
      label,
      post(body, { ...h, 'webhook-signature': mangle(h['webhook-signature'] ?? '') }),
      invalidSig,
    )
  }
  for (let k = 0; k < 3; k++) {
    const body = ping()
    add(
      'signature',
      `signed with another source's secret #${k}`,
      post(body, signed(w.b.secret, body)),
      invalidSig,
    )
  }
  for (let k = 0; k < 5; k++) {
    const body = ping()
    add(
      'signature',
      `rotated-out secret (no grace) #${k}`,
      post(body, signed(w.rotated.oldSecret, body), w.rotated),
      invalidSig,
    )
  }
  {
    const body = ping()
    const raw = w.a.secret.replace(/^whsec_/, '')
    const id = 'msg_raw_key'
    const ts = String(nowSeconds())
    const sig = `v1,${createHmac('sha256', raw).update(`${id}.${ts}.${body}`).digest('base64')}`
    add(
      'signature',
      'keyed by the secret text, not its bytes',
      post(body, signed(w.a.secret, body, { id, ts, signature: sig })),
      invalidSig,
    )
  }

  // Timestamps: correctly signed, but outside the 5 minutes or not Unix seconds at all.
  const tolerance = { status: 401, code: 'timestamp_out_of_tolerance' }
  const n = nowSeconds()
  // 30 s of margin past the 300: the cases are built a moment before they are sent.
  for (const ts of [
    n - 301,
    n - 600,
    n - 3600,
    n - 86_400,
    0,
    1,
    n + 330,
    n + 3600,
    n + 10 * 365 * 86_400,
    999_999_999_999,
    Date.now(),
  ]) {
    const body = ping()
    add('timestamp', `timestamp ${ts}`, post(body, signed(w.a.secret, body, { ts: String(ts) })), tolerance)
  }
  for (const ts of [
    '1e9',
    '-5',
    `+${n}`,
    `${n}.5`,
    'abc',
    `0x${n.toString(16)}`,
    `${n}0000000000`,
    '\u00b9\u00b2\u00b3',
  ]) {
    const body = ping()
    add(
      'timestamp',
      `timestamp ${JSON.stringify(ts)}`,
      post(body, signed(w.a.secret, body, { ts })),
      tolerance,
    )
  }

  // Headers: the webhook headers missing or empty, an id too long, a wrong media type.
  const missing = { status: 400, code: 'signature_headers_missing' }
  for (const drop of [
    ['webhook-id'],
    ['webhook-timestamp'],
    ['webhook-signature'],
    ['webhook-id', 'webhook-timestamp', 'webhook-signature'],
  ]) {
    const body = ping()
    const h = signed(w.a.secret, body)
    for (const d of drop) delete h[d]
    add('headers', `without ${drop.join(', ')}`, post(body, h), missing)
  }
  for (const empty of ['webhook-id', 'webhook-timestamp', 'webhook-signature']) {
    const body = ping()
    add('headers', `empty ${empty}`, post(body, { ...signed(w.a.secret, body), [empty]: '' }), missing)
    // HTTP drops a value's surrounding whitespace: blank is empty.
    add('headers', `blank ${empty}`, post(body, { ...signed(w.a.secret, body), [empty]: '   ' }), missing)
  }
  {
    const body = ping()
    add(
      'headers',
      'webhook-id of 257 characters, signed',
      post(body, signed(w.a.secret, body, { id: 'x'.repeat(257) })),
      missing,
    )
  }
  const media = { status: 415, code: 'unsupported_media_type' }
  for (const type of [
    null,
    'text/plain',
    'application/xml',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/jsonp',
    'application/json-patch+json',
    'json',
  ]) {
    const body = ping()
    add(
      'headers',
      `content-type ${type ?? '(none)'}`,
      post(body, signed(w.a.secret, body, { contentType: type })),
      media,
    )
  }

  // Bodies over the limit (1 MiB): announced, or chunked and never ending.
  const tooLarge = { status: 413, code: 'payload_too_large' }
  for (const size of [1024 * 1024 + 1, 2 * 1024 * 1024, 8 * 1024 * 1024]) {
    const body = Buffer.alloc(size, ' ')
    body.write('{"type":"test.ping","occurred_at":"2026-11-01T09:00:00Z","data":{}}')
    add('size', `${size} bytes with content-length`, post(body, signed(w.a.secret, body)), tooLarge)
  }
  add(
    'size',
    'endless chunked body, signed headers',
    { path: hook(), headers: signed(w.a.secret, 'x'), endless: true },
    tooLarge,
  )
  add(
    'size',
    'endless chunked body, no signature',
    { path: hook(), headers: { 'content-type': 'application/json' }, endless: true },
    tooLarge,
  )
  // An unknown source is refused before its body is read at all.
  add(
    'size',
    'endless chunked body, unknown source',
    {
      path: '/v1/webhooks/00000000-0000-4000-8000-000000000000',
      headers: { 'content-type': 'application/json' },
      endless: true,
    },
    { status: 404, code: 'source_not_found' },
  )
  add(
    'size',
    '2 MiB to an unknown source',
    {
      path: '/v1/webhooks/00000000-0000-4000-8000-000000000000',
      headers: { 'content-type': 'application/json' },
      body: Buffer.alloc(2 * 1024 * 1024, ' '),
    },
    tooLarge,
  )
}
