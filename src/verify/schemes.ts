import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { errors, type JWTPayload, jwtVerify } from 'jose'
import { z } from 'zod'
import { generateWebhookSecret } from '../sources/secret-box.js'
import { secretKey, verify as verifyStandardWebhook } from './standard-webhooks.js'

/** An HTTP header name (RFC 7230 token), stored lowercased so lookups never depend on case. */
const HeaderName = z
  .string()
  .max(100)
  .regex(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/, 'an HTTP header name (RFC 7230 token)')
  .toLowerCase()

const Tolerance = z
  .number()
  .int()
  .min(0)
  .max(3600)
  .default(300)
  .describe('Seconds a delivery may be early or late against the server clock (default 300)')

const StandardWebhooks = z
  .strictObject({
    scheme: z.literal('standard-webhooks').describe('Standard Webhooks v1 (the default)'),
  })
  .describe(
    'Standard Webhooks v1: webhook-id, webhook-timestamp and webhook-signature headers, HMAC-SHA256 ' +
      'over "{id}.{timestamp}.{body}" keyed by a whsec_ secret; 5-minute tolerance',
  )

const JwtHs256 = z
  .strictObject({
    scheme: z.literal('jwt-hs256').describe('HS256 JWT in "Authorization: Bearer <jwt>"'),
    tolerance_seconds: Tolerance,
    id_claim: z
      .string()
      .min(1)
      .max(100)
      .optional()
      .describe('Claim holding the delivery id used for deduplication (default jti)'),
  })
  .describe(
    'JWT signed with HS256 keyed by the utf8 bytes of the secret (CloudBlue Connect style). ' +
      'iat is required and must be within tolerance; exp, when present, is honoured. ' +
      'The token does not cover the body: it authenticates the sender, not the payload.',
  )

const Hmac = z
  .strictObject({
    scheme: z.literal('hmac').describe('HMAC of the body (and optionally a timestamp) in a header'),
    header: HeaderName.describe('Header carrying the signature, e.g. x-hub-signature-256'),
    algorithm: z.enum(['sha256', 'sha512']).default('sha256').describe('HMAC hash (default sha256)'),
    encoding: z.enum(['hex', 'base64']).default('hex').describe('Signature encoding (default hex)'),
    prefix: z
      .string()
      .min(1)
      .max(50)
      .optional()
      .describe('Text the header value must start with before the signature, e.g. "sha256="'),
    content: z
      .string()
      .min(1)
      .max(200)
      .default('{body}')
      .refine((t) => t.includes('{body}'), 'content must include {body}: the signature has to cover the body')
      .describe(
        'Template of the signed bytes: {body} is the raw body, {timestamp} the timestamp header, ' +
          'anything else is literal utf8 (default "{body}", e.g. "{timestamp}.{body}")',
      ),
    timestamp_header: HeaderName.optional().describe(
      'Header with the unix-seconds timestamp; required when content uses {timestamp}',
    ),
    tolerance_seconds: Tolerance,
    id_header: HeaderName.optional().describe('Header carrying the delivery id used for deduplication'),
  })
  .refine((c) => !c.content.includes('{timestamp}') || c.timestamp_header !== undefined, {
    message: 'content uses {timestamp}, so timestamp_header is required',
    path: ['timestamp_header'],
  })
  // An unsigned timestamp bounds nothing: anyone replaying a delivery could simply refresh it.
  .refine((c) => c.timestamp_header === undefined || c.content.includes('{timestamp}'), {
    message: 'timestamp_header is only meaningful when content signs it with {timestamp}',
    path: ['content'],
  })
  .describe('HMAC keyed by the utf8 bytes of the secret (GitHub style), compared in constant time')

const ApiKey = z
  .strictObject({
    scheme: z.literal('api-key').describe('A static secret sent in a header'),
    header: HeaderName.describe('Header carrying the key, e.g. authorization or x-api-key'),
    prefix: z
      .string()
      .min(1)
      .max(50)
      .optional()
      .describe('Text the header value must start with before the key, e.g. "Bearer "'),
    id_header: HeaderName.optional().describe('Header carrying the delivery id used for deduplication'),
  })
  .describe('Static shared key: authenticates the sender only; neither body nor time is covered')

/** How a source's deliveries are authenticated; stored with the source, parsed once on write. */
export const VerificationConfig = z
  .discriminatedUnion('scheme', [StandardWebhooks, JwtHs256, Hmac, ApiKey])
  .describe('How deliveries from this source are verified')
export type VerificationConfig = z.infer<typeof VerificationConfig>

export const DEFAULT_VERIFICATION: VerificationConfig = { scheme: 'standard-webhooks' }

export type VerifyInput = {
  /** Case-insensitive request header lookup. */
  header(name: string): string | undefined
  /** The raw body bytes, exactly as received: every scheme that signs the body signs these. */
  raw: Uint8Array
  /** Every active secret of the source, plaintext; during rotation any of them may match. */
  secrets: readonly string[]
  nowSeconds: number
}

export type VerifyOutcome =
  | { outcome: 'verified'; webhookId: string | null }
  | { outcome: 'signature_headers_missing' }
  | { outcome: 'signature_invalid' }
  | { outcome: 'timestamp_out_of_tolerance' }

type HmacConfig = z.infer<typeof Hmac>
type JwtConfig = z.infer<typeof JwtHs256>
type ApiKeyConfig = z.infer<typeof ApiKey>

const MISSING = { outcome: 'signature_headers_missing' } as const
const INVALID = { outcome: 'signature_invalid' } as const
const STALE = { outcome: 'timestamp_out_of_tolerance' } as const
const utf8 = new TextEncoder()

/**
 * Verifies a delivery before anything parses it. Fails closed: with no (non-empty) secret nothing
 * verifies. Each scheme tries every secret without stopping at the first match.
 */
export async function verifyRequest(config: VerificationConfig, input: VerifyInput): Promise<VerifyOutcome> {
  // An empty secret would let anyone compute the HMAC, or match an empty api key.
  const secrets = input.secrets.filter((s) => s !== '')
  switch (config.scheme) {
    case 'standard-webhooks':
      return verifyStandard(input, secrets)
    case 'jwt-hs256':
      return verifyJwt(config, input, secrets)
    case 'hmac':
      return verifyHmac(config, input, secrets)
    case 'api-key':
      return verifyApiKey(config, input, secrets)
  }
}

/** A fresh secret for the scheme: `whsec_` + base64 of 32 random bytes for Standard Webhooks, else 32 random bytes base64url. */
export function generateSecret(config: VerificationConfig): string {
  return config.scheme === 'standard-webhooks'
    ? generateWebhookSecret()
    : randomBytes(32).toString('base64url')
}

/**
 * Why a secret the BSS chose cannot serve the scheme, or undefined if it can. A Standard Webhooks
 * secret must be `whsec_` + strict base64 of 24 to 64 bytes (CONTRACT section 1): anything else
 * could decode to an empty or weak HMAC key. HS256 and HMAC keys need at least 32 bytes (RFC 7518).
 */
export function secretProblem(config: VerificationConfig, secret: string): string | undefined {
  if (config.scheme === 'standard-webhooks') {
    const b64 = secret.startsWith('whsec_') ? secret.slice(6) : undefined
    if (b64 === undefined || !/^[A-Za-z0-9+/]+={0,2}$/.test(b64) || b64.length % 4 !== 0)
      return 'a Standard Webhooks secret is whsec_ followed by base64'
    const bytes = Buffer.from(b64, 'base64').length
    if (bytes < 24 || bytes > 64) return 'a Standard Webhooks secret holds 24 to 64 bytes'
    return undefined
  }
  if ((config.scheme === 'jwt-hs256' || config.scheme === 'hmac') && utf8.encode(secret).length < 32)
    return `a ${config.scheme} secret needs at least 32 bytes`
  return undefined
}

function verifyStandard(input: VerifyInput, secrets: readonly string[]): VerifyOutcome {
  const id = input.header('webhook-id')
  const result = verifyStandardWebhook(
    { id, timestamp: input.header('webhook-timestamp'), signature: input.header('webhook-signature') },
    input.raw,
    // A key that decodes to nothing would let anyone sign: fail closed on it.
    secrets.map(secretKey).filter((k) => k.length > 0),
    input.nowSeconds,
  )
  return result.outcome === 'verified' ? { outcome: 'verified', webhookId: id ?? null } : result
}

async function verifyJwt(
  c: JwtConfig,
  input: VerifyInput,
  secrets: readonly string[],
): Promise<VerifyOutcome> {
  const authorization = input.header('authorization')
  if (!authorization) return MISSING
  // Strict on purpose: only `Authorization: Bearer <jwt>`, no other header or bare token.
  const token = /^Bearer +([\w.-]+)$/i.exec(authorization)?.[1]
  if (!token) return INVALID
  let outcome: VerifyOutcome = INVALID
  for (const secret of secrets) {
    const result = await checkJwt(c, token, utf8.encode(secret), input.nowSeconds)
    if (outcome.outcome === 'signature_invalid') outcome = result
  }
  return outcome
}

async function checkJwt(c: JwtConfig, token: string, key: Uint8Array, now: number): Promise<VerifyOutcome> {
  try {
    // jose verifies the signature before any claim, so claim errors below imply a genuine token.
    const { payload } = await jwtVerify(token, key, {
      algorithms: ['HS256'],
      currentDate: new Date(now * 1000),
      clockTolerance: c.tolerance_seconds,
      requiredClaims: ['iat'],
    })
    // iat bounds replay when exp is absent. Checked here rather than with jose's maxTokenAge, which
    // would add clockTolerance to the age and double the window.
    if (typeof payload.iat !== 'number' || Math.abs(now - payload.iat) > c.tolerance_seconds) return STALE
    return { outcome: 'verified', webhookId: claimId(payload, c.id_claim ?? 'jti') }
  } catch (error) {
    if (error instanceof errors.JWTExpired) return STALE
    if (error instanceof errors.JWTClaimValidationFailed && error.claim === 'nbf') return STALE
    if (error instanceof errors.JOSEError) return INVALID
    throw error
  }
}

function claimId(payload: JWTPayload, claim: string): string | null {
  const value = payload[claim]
  if (typeof value === 'string' && value !== '') return value
  return typeof value === 'number' && Number.isSafeInteger(value) ? String(value) : null
}

function verifyHmac(c: HmacConfig, input: VerifyInput, secrets: readonly string[]): VerifyOutcome {
  const signature = input.header(c.header)
  // null: the scheme signs no timestamp. The schema guarantees {timestamp} implies a timestamp_header.
  const timestamp = c.timestamp_header === undefined ? null : (input.header(c.timestamp_header) ?? '')
  if (!signature || timestamp === '') return MISSING
  if (timestamp !== null) {
    if (!/^\d{1,12}$/.test(timestamp)) return STALE
    if (Math.abs(input.nowSeconds - Number(timestamp)) > c.tolerance_seconds) return STALE
  }
  const candidate = decodeSignature(c, signature)
  if (!candidate) return INVALID
  // Signed bytes are built from the template: literal parts as utf8, the body as received, never decoded.
  const parts = c.content.split(/(\{body\}|\{timestamp\})/)
  const expected = secrets.map((secret) => {
    const mac = createHmac(c.algorithm, utf8.encode(secret))
    for (const part of parts) {
      mac.update(
        part === '{body}' ? input.raw : utf8.encode(part === '{timestamp}' ? (timestamp ?? '') : part),
      )
    }
    return mac.digest()
  })
  if (!matchesAny(candidate, expected)) return INVALID
  return { outcome: 'verified', webhookId: idFrom(input, c.id_header) }
}

function decodeSignature(c: HmacConfig, value: string): Buffer | undefined {
  if (c.prefix !== undefined && !value.startsWith(c.prefix)) return undefined
  const encoded = c.prefix === undefined ? value : value.slice(c.prefix.length)
  // Node's decoders skip invalid characters silently, so the shape is checked first.
  if (c.encoding === 'hex')
    return /^(?:[0-9a-f]{2})+$/i.test(encoded) ? Buffer.from(encoded, 'hex') : undefined
  return /^[A-Za-z0-9+/]+={0,2}$/.test(encoded) ? Buffer.from(encoded, 'base64') : undefined
}

function verifyApiKey(c: ApiKeyConfig, input: VerifyInput, secrets: readonly string[]): VerifyOutcome {
  const value = input.header(c.header)
  if (!value) return MISSING
  if (c.prefix !== undefined && !value.startsWith(c.prefix)) return INVALID
  // Digests on both sides: equal lengths for timingSafeEqual, and the key's length never leaks.
  const presented = sha256(value.slice(c.prefix?.length ?? 0))
  if (!matchesAny(presented, secrets.map(sha256))) return INVALID
  return { outcome: 'verified', webhookId: idFrom(input, c.id_header) }
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest()
}

/** Constant-time per comparison, and no early exit: timing does not say which secret matched. */
function matchesAny(candidate: Buffer, expected: readonly Buffer[]): boolean {
  let matched = false
  for (const digest of expected) {
    if (candidate.length === digest.length && timingSafeEqual(candidate, digest)) matched = true
  }
  return matched
}

function idFrom(input: VerifyInput, header: string | undefined): string | null {
  return (header === undefined ? undefined : input.header(header)) || null
}
