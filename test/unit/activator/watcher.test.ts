import {connect, type Socket} from 'node:net'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterEach, describe, expect, it} from 'vitest'
import {SocketWatcher} from '../../../src/activator/watcher.js'
import {canBind, closeFd, listenTcp} from '../../../src/sys/socket.js'
import {randomFreePort} from '../../helpers/ports.js'

describe('SocketWatcher (one poll over every held socket)', () => {
  const fds: number[] = []
  const clients: Socket[] = []
  let watcher: SocketWatcher | undefined
  afterEach(async () => {
    await watcher?.close()
    for (const c of clients.splice(0)) c.destroy()
    for (const fd of fds.splice(0)) closeFd(fd)
  })

  it('fires only the group whose socket is readable, once, and unwatches it', async () => {
    watcher = new SocketWatcher()
    const [pa, pb] = [randomFreePort(), randomFreePort()]
    const a = listenTcp(pa, '127.0.0.1')
    const b = listenTcp(pb, '127.0.0.1')
    fds.push(a, b)
    const fired: string[] = []
    watcher.watch('a', [a], () => fired.push('a'))
    watcher.watch('b', [b], () => fired.push('b'))
    await sleep(50)
    expect(fired).toEqual([])
    clients.push(connect(pb, '127.0.0.1'))
    await sleep(200)
    // Level-triggered: b stays readable (nobody accepts), yet it fired once: it is unwatched.
    expect(fired).toEqual(['b'])
    expect(watcher.isWatching('b')).toBe(false)
    expect(watcher.isWatching('a')).toBe(true)
    // Watched again (as after nspawn exits) with the connection still queued: fires at once.
    watcher.watch('b', [b], () => fired.push('b again'))
    await sleep(200)
    expect(fired).toEqual(['b', 'b again'])
  })

  it('a socket unwatched is out of the pending poll once settled, so closing it frees its port at once', async () => {
    watcher = new SocketWatcher()
    const other = listenTcp(randomFreePort(), '127.0.0.1')
    fds.push(other)
    watcher.watch('other', [other], () => {})
    for (let i = 0; i < 10; i++) {
      const port = randomFreePort()
      const fd = listenTcp(port, '127.0.0.1')
      watcher.watch('x', [fd], () => {})
      await sleep(10)
      watcher.unwatch('x')
      await watcher.settled([fd])
      closeFd(fd)
      expect(canBind(port, '127.0.0.1').ok).toBe(true)
    }
  })

  it('settling on sockets the poll does not hold resolves at once (a container that was booted)', async () => {
    watcher = new SocketWatcher()
    const other = listenTcp(randomFreePort(), '127.0.0.1')
    const booted = listenTcp(randomFreePort(), '127.0.0.1')
    fds.push(other, booted)
    watcher.watch('other', [other], () => {})
    await sleep(20)
    await watcher.settled([booted])
  })

  it('holds many sockets with one pending poll (the libuv pool stays free)', async () => {
    watcher = new SocketWatcher()
    const ports: number[] = []
    for (let i = 0; i < 20; i++) {
      const p = randomFreePort()
      ports.push(p)
      const fd = listenTcp(p, '127.0.0.1')
      fds.push(fd)
      watcher.watch(`c${i}`, [fd], () => {})
    }
    // Other pool work still runs promptly while the poll waits.
    const started = Date.now()
    const {readFile} = await import('node:fs/promises')
    await Promise.all(Array.from({length: 8}, () => readFile('/proc/self/status')))
    expect(Date.now() - started).toBeLessThan(1000)
    let fired = false
    watcher.watch('last', [fds[19]], () => (fired = true))
    clients.push(connect(ports[19], '127.0.0.1'))
    await sleep(200)
    expect(fired).toBe(true)
  })
})
