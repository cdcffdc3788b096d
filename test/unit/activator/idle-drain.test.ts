/**
 * The wait of an idle poweroff for sessions accepted just as the socket units stopped, with real
 * sockets on loopback (the rule reads /proc/net/tcp): it ends when they close, at its limit when
 * they do not, and at once when a stop or rm is queued behind it; a connection nobody accepted
 * is no session to wait for.
 */
import {createServer, connect, type Server, type Socket} from 'node:net'
import {afterEach, describe, expect, it} from 'vitest'
import type {HeldContainer} from '../../../src/activator/held-container.js'
import {IdlePolicy} from '../../../src/activator/idle-policy.js'
import {closeFd, listenTcp} from '../../../src/sys/socket.js'
import {randomFreePort} from '../../helpers/ports.js'

type Drain = {waitNoConnections(c: HeldContainer): Promise<void>}

describe('the idle poweroff waits for late sessions, boundedly', () => {
  const opened: Array<Server | Socket> = []
  afterEach(() => {
    for (const s of opened.splice(0)) 'destroy' in s ? s.destroy() : s.close()
  })

  async function acceptedConnection(): Promise<{port: number; client: Socket}> {
    const port = randomFreePort()
    const server = createServer((socket) => opened.push(socket))
    opened.push(server)
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()))
    const client = connect(port, '127.0.0.1')
    opened.push(client)
    await new Promise((r) => client.once('connect', r))
    // Accepted by the server (the kernel's row has an inode only once a process took it).
    await new Promise((r) => setTimeout(r, 50))
    return {port, client}
  }

  function setup(port: number, drainLimitMs: number) {
    const log: string[] = []
    const c = {name: 'web', state: 'running', stopWanted: false, record: {ports: [{port, service: 'http'}]}} as unknown as HeldContainer
    const policy = new IdlePolicy({root: '/nonexistent', held: () => [c], serial: (_n, body) => body(), log: (m) => log.push(m), drainLimitMs}) as unknown as Drain
    return {c, log, drain: () => policy.waitNoConnections(c)}
  }

  it('ends when the session closes', async () => {
    const {port, client} = await acceptedConnection()
    const {drain, log} = setup(port, 10_000)
    const started = Date.now()
    setTimeout(() => client.destroy(), 400)
    await drain()
    expect(Date.now() - started).toBeGreaterThanOrEqual(350)
    expect(Date.now() - started).toBeLessThan(3000)
    expect(log[0]).toMatch(/1 connection\(s\) came in as it went idle/)
  })

  it('ends at its limit when the session stays open', async () => {
    const {port} = await acceptedConnection()
    const {drain, log} = setup(port, 700)
    const started = Date.now()
    await drain()
    expect(Date.now() - started).toBeGreaterThanOrEqual(650)
    expect(Date.now() - started).toBeLessThan(3000)
    expect(log.at(-1)).toMatch(/still open 1 s after it went idle; powering off/)
  })

  it('gives way at once to a stop queued behind it', async () => {
    const {port} = await acceptedConnection()
    const {c, drain} = setup(port, 60_000)
    const started = Date.now()
    setTimeout(() => (c.stopWanted = true), 300)
    await drain()
    expect(Date.now() - started).toBeLessThan(2000)
  })

  it('does not wait for a connection still in the accept queue', async () => {
    const port = randomFreePort()
    // A listener that never accepts (as the activator's held socket): the client waits in its queue.
    const fd = listenTcp(port, '127.0.0.1')
    const client = connect(port, '127.0.0.1')
    opened.push(client)
    await new Promise((r) => client.once('connect', r))
    try {
      const {drain, log} = setup(port, 60_000)
      const started = Date.now()
      await drain()
      expect(Date.now() - started).toBeLessThan(500)
      expect(log).toEqual([])
    } finally {
      closeFd(fd)
    }
  })
})
