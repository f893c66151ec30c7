import { OpenAPIHono, z } from '@hono/zod-openapi'
import { ErrorCode } from '../errors.js'
import type { AuthVars } from './auth.js'
import { validationHook } from './error-handler.js'

export type Env = { Variables: AuthVars & { requestId: string } }

/** Every resource router is built this way, so validation failures all answer the same 400. */
export function router(): OpenAPIHono<Env> {
  return new OpenAPIHono<Env>({ defaultHook: validationHook })
}

export const ErrorBody = z
  .object({
    error: z.object({
      code: z.enum(ErrorCode),
      message: z.string(),
      request_id: z.string().nullable(),
      details: z.unknown().optional(),
    }),
  })
  .openapi('Error')

/** OpenAPI response entries for the error statuses a route can answer. */
export function errors(...statuses: number[]) {
  return Object.fromEntries(
    statuses.map((s) => [
      s,
      { description: `error (see error.code)`, content: { 'application/json': { schema: ErrorBody } } },
    ]),
  )
}

export const json = <T extends z.ZodType>(schema: T, description: string) => ({
  description,
  content: { 'application/json': { schema } },
})

export const jsonBody = <T extends z.ZodType>(schema: T) => ({
  required: true,
  content: { 'application/json': { schema } },
})

export const IdParam = z.object({ id: z.uuid().openapi({ param: { name: 'id', in: 'path' } }) })
