import postgres from 'postgres'

export type Sql = postgres.Sql
export type Tx = postgres.TransactionSql

export type SqlOptions = { max?: number; connectTimeoutSeconds?: number; appName?: string }

/** The single `sql` instance an entry point builds; everything else receives it. */
export function createSql(url: string, opts: SqlOptions = {}): Sql {
  return postgres(url, {
    max: opts.max ?? 10,
    // Fail fast when Postgres is down so ingest can answer 503 instead of hanging.
    connect_timeout: opts.connectTimeoutSeconds ?? 3,
    idle_timeout: 30,
    onnotice: () => {},
    connection: { application_name: opts.appName ?? 'tiersync' },
  })
}

/** Creates the database named in `url` when it does not exist yet (DATABASE_URL's promise). */
export async function ensureDatabase(url: string): Promise<void> {
  const target = new URL(url)
  const name = decodeURIComponent(target.pathname.replace(/^\//, ''))
  if (!name) return
  const admin = new URL(url)
  admin.pathname = '/postgres'
  const sql = postgres(admin.toString(), { max: 1, onnotice: () => {}, connect_timeout: 5 })
  try {
    const [row]: [{ exists: boolean }?] =
      await sql`select exists(select 1 from pg_database where datname = ${name}) as exists`
    if (row?.exists) return
    await sql`create database ${sql(name)}`.catch((err: { code?: string }) => {
      // Another process created it between our check and our create.
      if (err.code !== '42P04' && err.code !== '23505') throw err
    })
  } finally {
    await sql.end()
  }
}

/** A JSON parameter (jsonb) from any serializable value; the driver's type is narrower than ours. */
export function jsonParam(sql: Sql | Tx, value: unknown) {
  return sql.json(value as postgres.JSONValue)
}

/**
 * postgres.js 3.4.x can throw from a timer when Postgres drops a connection while a write is
 * queued (porsager/postgres#1208: `Cannot read properties of null (reading 'write')` in
 * `nextWrite`). The connection is already dead and the driver opens a new one; only this exact
 * error may be survived, anything else stays fatal.
 */
export function isDriverNullSocketWrite(err: unknown): boolean {
  return (
    err instanceof TypeError &&
    err.message.includes("reading 'write'") &&
    /nextWrite[^\n]*postgres[/\\]src[/\\]connection\.js/.test(err.stack ?? '')
  )
}
