import { connect, createServer, type Server, type Socket } from 'node:net'

/**
 * A TCP proxy that a test can take down and bring back on the same port: the way to make Redis
 * (or Postgres) unreachable for one client without stopping the shared service.
 */
export async function createTcpProxy(targetPort: number, targetHost = '127.0.0.1') {
  const sockets = new Set<Socket>()
  let server: Server | undefined
  let port = 0

  async function up() {
    const s = createServer((client) => {
      const upstream = connect(targetPort, targetHost)
      sockets.add(client).add(upstream)
      const drop = () => {
        client.destroy()
        upstream.destroy()
        sockets.delete(client)
        sockets.delete(upstream)
      }
      client.on('error', drop).on('close', drop)
      upstream.on('error', drop).on('close', drop)
      client.pipe(upstream).pipe(client)
    })
    await new Promise<void>((resolve) => s.listen(port, '127.0.0.1', resolve))
    port = (s.address() as { port: number }).port
    server = s
  }

  async function down() {
    const s = server
    server = undefined
    for (const sock of sockets) sock.destroy()
    sockets.clear()
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()))
  }

  await up()
  return { port: () => port, up, down }
}
