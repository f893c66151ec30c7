import { expect } from 'vitest'
import type { Role } from '../../src/auth/api-keys.js'
import { bearer, type TestApp } from './app.js'

/** One route of the admin API as the auth table sees it: the least role that may call it. */
export type RouteCase = { method: string; path: string; body?: unknown; need: Role }

/** The roles ranked below `need`: each must get 403 on that route. */
export function rolesBelow(need: Role): Role[] {
  return need === 'admin' ? ['viewer', 'billing'] : need === 'billing' ? ['viewer'] : []
}

export type ErrorBody = {
  error: { code: string; message: string; request_id: string | null; details?: unknown }
}
export type Detail = { path: string; message: string }

type CallOpts = { key?: string | null; body?: unknown; headers?: Record<string, string> }

/** In-process calls against the real app, with the keys of each role. */
export function apiClient(t: TestApp, keys: Record<Role, string>) {
  function call(method: string, path: string, { key = keys.admin, body, headers = {} }: CallOpts = {}) {
    return t.app.request(path, {
      method,
      headers: {
        ...(key === null ? {} : bearer(key)),
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...headers,
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    })
  }

  /** The parsed body of a success; fails with the body in the message otherwise. */
  async function ok<T = Record<string, unknown>>(
    res: Response | Promise<Response>,
    status = 200,
  ): Promise<T> {
    const r = await res
    const text = await r.text()
    expect(r.status, text).toBe(status)
    return JSON.parse(text) as T
  }

  /** The contract's error body, with the exact status and code. */
  async function fails(
    res: Response | Promise<Response>,
    status: number,
    code: string,
  ): Promise<ErrorBody['error']> {
    const r = await res
    const text = await r.text()
    expect(r.status, text).toBe(status)
    const body = JSON.parse(text) as ErrorBody
    expect(body.error.code, text).toBe(code)
    expect(typeof body.error.message).toBe('string')
    expect(body.error.message.length).toBeGreaterThan(0)
    expect(body.error.request_id).toBeTruthy()
    expect(r.headers.get('x-request-id')).toBe(body.error.request_id)
    return body.error
  }

  /** Every page of a list, following next_cursor; fails on an id seen twice. */
  async function allPages(path: string, key = keys.viewer): Promise<{ ids: string[]; pages: number }> {
    const ids: string[] = []
    let cursor: string | undefined
    let pages = 0
    do {
      const sep = path.includes('?') ? '&' : '?'
      const body = await ok<{ data: { id: string }[]; next_cursor?: string }>(
        call('GET', `${path}${cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ''}`, { key }),
      )
      ids.push(...body.data.map((r) => r.id))
      cursor = body.next_cursor
      pages += 1
    } while (cursor && pages < 100)
    expect(new Set(ids).size, `duplicates in ${ids.join(',')}`).toBe(ids.length)
    return { ids, pages }
  }

  return { call, ok, fails, allPages }
}

/** The paths named by a 400's details. */
export function detailPaths(error: ErrorBody['error']): string[] {
  return ((error.details ?? []) as Detail[]).map((d) => d.path)
}
