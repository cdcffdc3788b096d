/**
 * A failed poll(2) must neither spin (the old loop retried a failing poll at once, forever, at full
 * CPU) nor end the activator (a rejected poll escaped as an unhandled rejection). Real poll, real
 * fds; only the rejected call is injected, which cannot be caused for real.
 */
import {readFileSync} from 'node:fs'
import {connect, type Socket} from 'node:net'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterEach, describe, expect, it} from 'vitest'
import {nextBackoffMs, SocketWatcher} from '../../../src/activator/watcher.js'
import {fn} from '../../../src/sys/libc.js'
import {closeFd, listenTcp, pollAsync} from '../../../src/sys/socket.js'
import {randomFreePort} from '../../helpers/ports.js'

/** The soft RLIMIT_NOFILE of this process: poll(2) with more entries fails with EINVAL. */
function openFileLimit(): number {
  const line = readFileSync('/proc/self/limits', 'utf8').split('\n').find((l) => l.startsWith('Max open files'))!
  return Number(line.split(/\s{2,}/)[1])
}

/** A real poll that counts its calls. */
function countingPoll() {
  const counter = {calls: 0, poll: (set: Buffer, timeoutMs: number) => (counter.calls++, pollAsync(set, timeoutMs))}
  return counter
}

/** CPU time (ms) this process spends during BODY, and the wall time. */
async function cpuDuring(body: () => Promise<void>): Promise<{cpuMs: number; wallMs: number}> {
  const start = process.cpuUsage()
  const wall = Date.now()
  await body()
  const used = process.cpuUsage(start)
  return {cpuMs: (used.user + used.system) / 1000, wallMs: Date.now() - wall}
}

describe('SocketWatcher when poll fails', () => {
  const fds: number[] = []
  const clients: Socket[] = []
  let watcher: SocketWatcher | undefined
  afterEach(async () => {
    await watcher?.close()
    watcher = undefined
    for (const c of clients.splice(0)) c.destroy()
    for (const fd of fds.splice(0)) closeFd(fd)
  })

  it('drops the group of a closed fd, logs it, and goes on serving the others without spinning', async () => {
    const log: string[] = []
    const counter = countingPoll()
    watcher = new SocketWatcher({log: (m) => log.push(m), poll: counter.poll})
    const port = randomFreePort()
    const good = listenTcp(port, '127.0.0.1')
    fds.push(good)
    // A closed fd that nothing will reuse: a socket moved to a high number, then closed.
    const low = listenTcp(randomFreePort(), '127.0.0.1')
    const closed = fn('int dup2(int oldfd, int newfd)')(low, 15_000) as number
    expect(closed).toBe(15_000)
    closeFd(low)
    closeFd(closed)
    let fired = 0
    watcher.watch('good', [good], () => fired++)
    watcher.watch('bad', [closed], () => fired += 100)
    const {cpuMs} = await cpuDuring(() => sleep(400))
    expect(watcher.isWatching('bad')).toBe(false)
    expect(watcher.isWatching('good')).toBe(true)
    expect(log.join('\n')).toContain('fd 15000 of bad is not open; bad is no longer watched')
    // One poll saw POLLNVAL, the next waits: a handful of calls, not thousands.
    expect(counter.calls).toBeLessThan(6)
    expect(cpuMs).toBeLessThan(200)
    clients.push(connect(port, '127.0.0.1'))
    await sleep(200)
    expect(fired).toBe(1)
  })

  it('backs off on a poll that fails every time (EINVAL: more fds than RLIMIT_NOFILE), and recovers when the set shrinks', async () => {
    const log: string[] = []
    const counter = countingPoll()
    watcher = new SocketWatcher({log: (m) => log.push(m), poll: counter.poll})
    const port = randomFreePort()
    const fd = listenTcp(port, '127.0.0.1')
    fds.push(fd)
    // The same open fd more times than the open-file limit: the kernel refuses the whole poll.
    watcher.watch('huge', Array<number>(openFileLimit() + 1).fill(fd), () => {})
    const {cpuMs, wallMs} = await cpuDuring(() => sleep(1500))
    // Pauses of 10, 20, 40 ... ms: about eight polls in 1.5 s. The old loop made them back to back.
    expect(counter.calls).toBeGreaterThan(2)
    expect(counter.calls).toBeLessThan(15)
    // The old loop: 890 ms of CPU in 1.5 s (measured); this one a few percent of that.
    expect(cpuMs / wallMs).toBeLessThan(0.2)
    expect(log.some((m) => /poll of \d+ fds failed: errno 22 \(EINVAL\): more fds than the open-file limit/.test(m))).toBe(true)
    // No fd is to blame, so none was dropped; once the set is sane again, connections are seen.
    watcher.unwatch('huge')
    let fired = false
    watcher.watch('small', [fd], () => (fired = true))
    clients.push(connect(port, '127.0.0.1'))
    // The change of the set ends the pause: no need to wait out the last one (up to 1 s).
    await sleep(150)
    expect(fired).toBe(true)
  })

  it('catches a rejected poll, logs it, pauses, and keeps watching (no unhandled rejection)', async () => {
    const log: string[] = []
    let rejections = 3
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      watcher = new SocketWatcher({
        log: (m) => log.push(m),
        poll: (set, timeoutMs) => (rejections-- > 0 ? Promise.reject(new Error('koffi: worker gone')) : pollAsync(set, timeoutMs)),
      })
      const port = randomFreePort()
      const fd = listenTcp(port, '127.0.0.1')
      fds.push(fd)
      let fired = false
      watcher.watch('c', [fd], () => (fired = true))
      await sleep(300)
      clients.push(connect(port, '127.0.0.1'))
      await sleep(300)
      expect(fired).toBe(true)
      expect(log.filter((m) => m.includes('was rejected: koffi: worker gone'))).toHaveLength(3)
      expect(log.some((m) => m.includes('trying again in'))).toBe(true)
      expect(unhandled).toEqual([])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  })

  it('close() during a pause returns at once', async () => {
    watcher = new SocketWatcher({log: () => {}})
    const fd = listenTcp(randomFreePort(), '127.0.0.1')
    fds.push(fd)
    watcher.watch('huge', Array<number>(openFileLimit() + 1).fill(fd), () => {})
    // Long enough for the pauses to reach several hundred ms.
    await sleep(800)
    const started = Date.now()
    await watcher.close()
    watcher = undefined
    expect(Date.now() - started).toBeLessThan(100)
  })

  it('pauses grow from 10 ms, doubling, to at most 1 s', () => {
    const pauses: number[] = []
    let last: number | undefined
    for (let i = 0; i < 9; i++) pauses.push((last = nextBackoffMs(last)))
    expect(pauses).toEqual([10, 20, 40, 80, 160, 320, 640, 1000, 1000])
  })
})
