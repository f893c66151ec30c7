import { createMiddleware } from 'hono/factory'
import { authenticate, type Role, roleAllows } from '../auth/api-keys.js'
import type { Sql } from '../db/client.js'
import { AppError } from '../errors.js'

export type AuthVars = { apiKey: { id: string; role: Role } }

/** `Authorization: Bearer <api key>`; 401 without a valid key, 403 when its role is too low. */
export function requireRole(sql: Sql, role: Role) {
  return createMiddleware<{ Variables: AuthVars }>(async (c, next) => {
    const header = c.req.header('authorization') ?? ''
    const m = /^Bearer\s+(\S+)$/i.exec(header)
    const key = m?.[1] ? await authenticate(sql, m[1]) : undefined
    if (!key) throw new AppError('unauthorized', { message: 'a valid API key is required' })
    if (!roleAllows(key.role, role)) throw new AppError('forbidden', { message: `requires the ${role} role` })
    c.set('apiKey', key)
    await next()
  })
}

/** Reads need `viewer`; anything that writes needs `write`. */
export function byMethod(sql: Sql, write: Role) {
  const read = requireRole(sql, 'viewer')
  const change = requireRole(sql, write)
  return createMiddleware<{ Variables: AuthVars }>((c, next) =>
    c.req.method === 'GET' || c.req.method === 'HEAD' ? read(c, next) : change(c, next),
  )
}
