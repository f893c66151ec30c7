import { createRequire } from 'node:module'
import { dirname, relative } from 'node:path'
import { createBullBoard } from '@bull-board/api'
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter'
import { HonoAdapter } from '@bull-board/hono'
import { serveStatic } from '@hono/node-server/serve-static'
import { Hono } from 'hono'
import { deleteCookie, getCookie, setCookie } from 'hono/cookie'
import { html } from 'hono/html'
import { authenticate, roleAllows } from '../auth/api-keys.js'
import type { Deps } from '../deps.js'
import { AppError } from '../errors.js'
import type { Env } from './openapi.js'

/** The browser session: the API key itself, in an HttpOnly, SameSite=Strict cookie scoped to /admin. */
const COOKIE = 'tiersync_key'
const BASE = '/admin/queues'

/**
 * The operators' pages: Bull Board at /admin/queues behind the admin API keys (sign in once at
 * /admin/login; scripts may send `Authorization: Bearer`), read-only below the admin role; and
 * the interactive API reference at /docs (Swagger UI served from this process, no CDN).
 */
export function dashboardRoutes(deps: Pick<Deps, 'sql' | 'queues'>) {
  const app = new Hono<Env>()

  app.get('/admin/login', (c) => c.html(loginPage()))
  app.post('/admin/login', async (c) => {
    const form = await c.req.parseBody()
    const key = typeof form.key === 'string' ? form.key.trim() : ''
    const found = key ? await authenticate(deps.sql, key) : undefined
    if (!found) return c.html(loginPage('That key is not valid.'), 401)
    setCookie(c, COOKIE, key, {
      httpOnly: true,
      sameSite: 'Strict',
      path: '/admin',
      secure: new URL(c.req.url).protocol === 'https:',
      maxAge: 8 * 3600,
    })
    return c.redirect(BASE, 303)
  })
  app.post('/admin/logout', (c) => {
    deleteCookie(c, COOKIE, { path: '/admin' })
    return c.redirect('/admin/login', 303)
  })

  app.use(`${BASE}/*`, async (c, next) => {
    const bearer = /^Bearer\s+(\S+)$/i.exec(c.req.header('authorization') ?? '')?.[1]
    const key = bearer ?? getCookie(c, COOKIE)
    const found = key ? await authenticate(deps.sql, key) : undefined
    if (!found) {
      if (c.req.method === 'GET' && (c.req.header('accept') ?? '').includes('text/html'))
        return c.redirect('/admin/login', 303)
      throw new AppError('unauthorized', { message: 'a valid API key is required' })
    }
    // Bull Board's actions (retry, clean, pause, promote, remove) are its non-GET API calls.
    if (c.req.method !== 'GET' && c.req.method !== 'HEAD' && !roleAllows(found.role, 'admin'))
      throw new AppError('forbidden', { message: 'the queue dashboard is read-only below the admin role' })
    await next()
  })

  const board = new HonoAdapter(serveStatic)
  createBullBoard({
    queues: [deps.queues.events, deps.queues.billing, deps.queues.reconcile].map((q) => new BullMQAdapter(q)),
    serverAdapter: board,
    options: { uiConfig: { boardTitle: 'tiersync queues' } },
  })
  board.setBasePath(BASE)
  app.route(BASE, board.registerPlugin())

  const swaggerDir = dirname(createRequire(import.meta.url).resolve('swagger-ui-dist/package.json'))
  app.get('/docs', (c) => c.html(docsPage()))
  app.get(
    '/docs/assets/*',
    serveStatic({
      root: relative(process.cwd(), swaggerDir),
      rewriteRequestPath: (path) => path.replace(/^\/docs\/assets/, ''),
    }),
  )
  return app
}

function loginPage(error?: string) {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tiersync: sign in</title>
<style>body{font-family:system-ui,sans-serif;max-width:28rem;margin:4rem auto;padding:0 1rem}
input{width:100%;padding:.5rem;margin:.5rem 0;box-sizing:border-box}button{padding:.5rem 1rem}.error{color:#b00}</style>
</head><body>
<h1>tiersync</h1>
<p>Sign in with an API key to open the queue dashboard (read-only below the admin role).</p>
${error ? html`<p class="error" role="alert">${error}</p>` : ''}
<form method="post" action="/admin/login">
<label for="key">API key</label>
<input id="key" name="key" type="password" autocomplete="off" required>
<button type="submit">Sign in</button>
</form></body></html>`
}

function docsPage() {
  return html`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>tiersync API reference</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({ url: '/openapi.json', dom_id: '#swagger-ui', deepLinking: true, persistAuthorization: true })
</script></body></html>`
}
