/**
 * The activator with the real tools: real Debian containers (overlays on the run's debootstrapped
 * base), real systemd-nspawn booted on the first connection with the held sockets handed over,
 * real sshd inside answering a real ssh client.
 */
import {unlink} from 'node:fs/promises'
import {connect, createServer, type Server} from 'node:net'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {startActivator, type RunningActivator} from '../../src/activator/server.js'
import {createContainer} from '../../src/containers/create.js'
import {exposePort} from '../../src/containers/expose.js'
import {startContainers, stopContainers} from '../../src/containers/lifecycle.js'
import {nspawnPidsFor} from '../../src/containers/processes.js'
import {readLogs} from '../../src/containers/logs.js'
import {getStatus} from '../../src/status/collect.js'
import type {ContainerStatus} from '../../src/status/types.js'
import {containerPaths} from '../../src/store/paths.js'
import {isAlive} from '../../src/sys/process.js'
import {canBind} from '../../src/sys/socket.js'
import {ctr} from '../helpers/cli.js'
import {makeTestRoot, skipReason, tearDown} from '../helpers/roots.js'
import {makeKeyPair, ssh} from '../helpers/ssh.js'

const reason = skipReason()
if (reason) console.warn(`test/integration/activator.test.ts: ${reason}`)

/** Ports for this run: 25000-28999, picked by pid so parallel runs do not collide, all free. */
function testPorts(count: number): number[] {
  let base = 25000 + ((process.pid * 7) % 3900)
  for (;;) {
    const ports = Array.from({length: count}, (_, i) => base + i)
    if (ports.every((p) => canBind(p).ok)) return ports
    base += count
  }
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(100)
  }
}

async function statusOf(root: string, name: string): Promise<ContainerStatus> {
  const status = (await getStatus(root)).containers.find((c) => c.name === name)
  if (!status) throw new Error(`no status for ${name}`)
  return status
}

/** Opens a TCP connection and resolves with the first line the server sends. */
function firstLine(port: number, timeoutMs = 60_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    let data = ''
    const done = (line: string) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(line)
    }
    const timer = setTimeout(() => done('(timeout)'), timeoutMs)
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1')
      if (data.includes('\n')) done(data.split('\n')[0])
    })
    socket.on('error', (error) => done(`(error ${error.message})`))
    socket.on('close', () => done(data ? data : '(closed)'))
  })
}

describe.skipIf(reason)('activator (real nspawn, real sshd, real ssh)', () => {
  let root: string
  let keys: Awaited<ReturnType<typeof makeKeyPair>>
  let running: RunningActivator | undefined
  const log: string[] = []
  const [PORT_A, PORT_B, PORT_A2, PORT_BUSY, PORT_C, PORT_D] = testPorts(6)

  const startInProcess = async () => {
    running = await startActivator({root, log: (m) => log.push(m), stopTimeoutMs: 20_000, idleCheckMs: 500})
  }

  beforeAll(async () => {
    keys = await makeKeyPair()
    root = await makeTestRoot()
    await createContainer(root, {distro: 'debian', name: 'a', sshKeyFiles: [keys.pub]})
    await createContainer(root, {distro: 'debian', name: 'b', sshKeyFiles: [keys.pub], ports: [{port: PORT_B, service: 'ssh'}]})
    await startInProcess()
  })

  afterAll(() => tearDown({activator: running, root, keys, log}))

  it('expose + start hold the port; no container process exists before the first connection', async () => {
    const exposed = await exposePort(root, {spec: String(PORT_A), service: 'ssh', container: 'a'})
    expect(exposed).toMatchObject({container: 'a', exposure: {port: PORT_A, service: 'ssh'}, held: false})
    const report = await startContainers(root, ['a'], {now: false})
    expect(report.items[0].error).toBeUndefined()
    expect(report.items[0].status?.state).toBe('listening')
    expect(canBind(PORT_A).ok).toBe(false)
    await sleep(500)
    expect(await nspawnPidsFor(containerPaths(root, 'a').rootfs)).toEqual([])
    expect((await statusOf(root, 'a')).state).toBe('listening')
  })

  it('a real ssh boots it and logs in', async () => {
    const result = await ssh(keys.key, PORT_A, 'cat /etc/hostname; systemctl is-active ctr-ssh.socket')
    expect(result.stderr).toBe('')
    expect(result.stdout).toBe('a\nactive')
    expect(result.exitCode).toBe(0)
    const status = await statusOf(root, 'a')
    expect(status.state).toBe('running')
    expect(status.wakes).toBe(1)
    expect(status.lastWakeMs).toBeGreaterThan(0)
    expect(status.memoryBytes).toBeGreaterThan(5e6)
    expect(await nspawnPidsFor(containerPaths(root, 'a').rootfs)).toEqual([status.pid])
  })

  it('poweroff inside makes the activator hold the port again; the next ssh boots it again', async () => {
    await ssh(keys.key, PORT_A, 'systemctl poweroff')
    await waitFor('a to power off', async () => (await statusOf(root, 'a')).state === 'listening')
    expect(await waitFor('no nspawn for a', async () => ((await nspawnPidsFor(containerPaths(root, 'a').rootfs)).length === 0 ? true : undefined))).toBe(true)
    expect(canBind(PORT_A).ok).toBe(false)
    const again = await ssh(keys.key, PORT_A, 'true')
    expect(again.exitCode).toBe(0)
    expect((await statusOf(root, 'a')).wakes).toBe(2)
  })

  it('30 connections opened at once while it boots each receive the SSH banner', async () => {
    await stopContainers(root, ['a'], {keepPorts: true})
    expect((await statusOf(root, 'a')).state).toBe('listening')
    const lines = await Promise.all(Array.from({length: 30}, () => firstLine(PORT_A)))
    expect(lines.filter((l) => l.startsWith('SSH-2.0-'))).toHaveLength(30)
    expect((await statusOf(root, 'a')).wakes).toBe(3)
  })

  it('two containers on two ports at once', async () => {
    const report = await startContainers(root, ['b'], {now: false})
    expect(report.items[0].error).toBeUndefined()
    const [ra, rb] = await Promise.all([ssh(keys.key, PORT_A, 'cat /etc/hostname'), ssh(keys.key, PORT_B, 'cat /etc/hostname')])
    expect([ra.stdout, rb.stdout]).toEqual(['a', 'b'])
    const [sa, sb] = await Promise.all([statusOf(root, 'a'), statusOf(root, 'b')])
    expect([sa.state, sb.state]).toEqual(['running', 'running'])
    expect(sa.pid).not.toBe(sb.pid)
  })

  it('a port is exposed only while the container is off; then it gets both sockets at every boot', async () => {
    // Running: its systemd could not be handed the new socket, so nothing changes.
    await expect(exposePort(root, {spec: `127.0.0.1:${PORT_A2}`, service: 'ssh', container: 'a'})).rejects.toMatchObject({code: 'RUNNING'})
    expect(canBind(PORT_A2, '127.0.0.1').ok).toBe(true)
    expect((await statusOf(root, 'a')).ports.map((e) => e.port)).toEqual([PORT_A])
    await stopContainers(root, ['a'], {keepPorts: true})
    const exposed = await exposePort(root, {spec: `127.0.0.1:${PORT_A2}`, service: 'ssh', container: 'a'})
    expect(exposed.held).toBe(true)
    expect(canBind(PORT_A2, '127.0.0.1').ok).toBe(false)
    // Woken on the new port; the old one is served by the same boot.
    expect((await ssh(keys.key, PORT_A2, 'true')).exitCode).toBe(0)
    // Had the container's systemd not been passed this socket too, it would have tried to bind the
    // port itself (the host holds it), and the whole socket unit would have failed.
    expect((await ssh(keys.key, PORT_A, 'systemctl is-active ctr-ssh.socket')).stdout).toBe('active')
    expect((await statusOf(root, 'a')).wakes).toBe(4)
  })

  it('says what is wrong with bad input, and changes nothing', async () => {
    const owned = exposePort(root, {spec: String(PORT_B), service: 'ssh', container: 'a'})
    await expect(owned).rejects.toMatchObject({code: 'PORT_OWNED', message: expect.stringContaining('b')})
    const squatter: Server = createServer()
    await new Promise<void>((r) => squatter.listen(PORT_BUSY, '127.0.0.1', () => r()))
    try {
      await expect(exposePort(root, {spec: String(PORT_BUSY), service: 'ssh', container: 'a'})).rejects.toMatchObject({code: 'PORT_BUSY'})
    } finally {
      squatter.close()
    }
    await expect(exposePort(root, {spec: '0', service: 'ssh', container: 'a'})).rejects.toMatchObject({code: 'INVALID_ARGUMENT'})
    await expect(exposePort(root, {spec: '65536', service: 'ssh', container: 'a'})).rejects.toMatchObject({code: 'INVALID_ARGUMENT'})
    await expect(exposePort(root, {spec: String(PORT_BUSY), service: 'gopher', container: 'a'})).rejects.toMatchObject({code: 'UNKNOWN_SERVICE'})
    await expect(exposePort(root, {spec: String(PORT_BUSY), service: 'ssh'})).rejects.toMatchObject({code: 'AMBIGUOUS'})
    // As systemctl start: a container started already is started (and the report says so).
    const again = await startContainers(root, ['a', 'nope'], {now: false})
    expect(again.items.map((i) => i.error?.code)).toEqual([undefined, 'NOT_FOUND'])
    expect(again.items[0].status?.already).toBeDefined()
    expect((await statusOf(root, 'a')).ports.map((e) => e.port)).toEqual([PORT_A, PORT_A2])
  })

  it('idle: powered off after its idle timeout with no connection; an open session keeps it up', async () => {
    await createContainer(root, {distro: 'debian', name: 'c', sshKeyFiles: [keys.pub], idleTimeoutSec: 2, ports: [{port: PORT_C, service: 'ssh'}]})
    expect((await startContainers(root, ['c'], {now: false})).items[0].error).toBeUndefined()
    const session = await ssh(keys.key, PORT_C, 'sleep 5; echo still here')
    expect(session.stdout).toBe('still here')
    expect((await statusOf(root, 'c')).state).toBe('running')
    const idle = await waitFor('the idle poweroff', async () => {
      const s = await statusOf(root, 'c')
      return s.state === 'listening' && s.lastStopReason === 'idle' ? s : undefined
    })
    expect(idle.wakes).toBe(1)
    expect(canBind(PORT_C).ok).toBe(false)
    expect((await ssh(keys.key, PORT_C, 'true')).exitCode).toBe(0)
    expect((await statusOf(root, 'c')).wakes).toBe(2)
  })

  it('connections across idle cycles (some land while it powers off) all get the banner', async () => {
    await createContainer(root, {distro: 'debian', name: 'd', sshKeyFiles: [keys.pub], idleTimeoutSec: 1, ports: [{port: PORT_D, service: 'ssh'}]})
    expect((await startContainers(root, ['d'], {now: false})).items[0].error).toBeUndefined()
    const lines: string[] = []
    const until = Date.now() + 25_000
    let seed = 7
    const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647)
    while (Date.now() < until) {
      lines.push(await firstLine(PORT_D, 30_000))
      // Gaps around the idle timeout plus the idle check: some connections come while it sleeps,
      // some while it is being powered off, some while it runs.
      await sleep(300 + random() * 2500)
    }
    expect(lines.filter((l) => !l.startsWith('SSH-2.0-'))).toEqual([])
    expect((await statusOf(root, 'd')).wakes).toBeGreaterThanOrEqual(3)
  })

  it('the activator restarted while holding ports holds them again, and remembers the wakes', async () => {
    const before = await statusOf(root, 'a')
    expect(before.wakes).toBeGreaterThan(0)
    await running!.close()
    running = undefined
    // It powered the containers off and let the ports go...
    expect(canBind(PORT_A).ok).toBe(true)
    expect(await nspawnPidsFor(containerPaths(root, 'a').rootfs)).toEqual([])
    expect((await getStatus(root)).live).toBe(false)
    // ...and a new one holds what the old one held.
    await startInProcess()
    expect(canBind(PORT_A).ok).toBe(false)
    expect(canBind(PORT_A2).ok).toBe(false)
    expect(canBind(PORT_B).ok).toBe(false)
    const after = await statusOf(root, 'a')
    expect(after.state).toBe('listening')
    // Powered off by the last activator as it stopped: a user's stop.
    expect(after).toMatchObject({wakes: before.wakes, lastWakeAt: before.lastWakeAt, lastWakeMs: before.lastWakeMs, lastStopReason: 'user'})
    expect((await ssh(keys.key, PORT_B, 'true')).exitCode).toBe(0)
  })

  it('logs show the container\'s journal, running or not', async () => {
    await stopContainers(root, ['b'], {keepPorts: true})
    const text = await readLogs(root, 'b', 200)
    expect(text).toMatch(/ctr-ssh@/)
  })

  it('a stop in the first ms of a boot, before systemd listens for signals, still powers it off at once', async () => {
    await stopContainers(root, ['a'], {keepPorts: true}).catch(() => {})
    // nspawn passes the SIGTERM on as one signal, which a systemd not yet listening drops: without
    // the activator repeating it, each of these stops waited for the 20 s kill timer.
    for (const delayMs of [30, 45, 60, 80]) {
      const client = connect(PORT_A, '127.0.0.1')
      client.on('error', () => {})
      await sleep(delayMs)
      const stopped = await stopContainers(root, ['a'], {keepPorts: true})
      client.destroy()
      expect(stopped.items[0].error).toBeUndefined()
      // The connection still queued in the held socket wakes it again (nothing is dropped): let
      // that boot settle, then power it off too.
      await sleep(1000)
      if ((await statusOf(root, 'a')).state !== 'listening') await stopContainers(root, ['a'], {keepPorts: true})
    }
    expect(log.filter((line) => line.startsWith('a: no poweroff after'))).toEqual([])
  })

  it('a tree that fails to boot: the connection is closed, the port stays held, the error is kept', async () => {
    await stopContainers(root, ['a'], {keepPorts: true})
    // Break a's tree: its init is gone (a whiteout in its overlay upper dir).
    const init = join(containerPaths(root, 'a').rootfs, 'usr/lib/systemd/systemd')
    await unlink(init)
    const line = await firstLine(PORT_A, 30_000)
    expect(line.startsWith('SSH-')).toBe(false)
    const status = await waitFor('the boot failure', async () => {
      const s = await statusOf(root, 'a')
      return s.lastStopReason === 'boot-failed' && s.state === 'listening' ? s : undefined
    })
    expect(status.lastError).toMatch(/systemd-nspawn exit/)
    expect(canBind(PORT_A).ok).toBe(false)
    // start --now reports the failure with nspawn's last lines, and keeps the ports held.
    await stopContainers(root, ['a'], {keepPorts: false})
    const now = await startContainers(root, ['a'], {now: true})
    expect(now.items[0].error).toMatchObject({code: 'BOOT_FAILED', hints: [expect.stringContaining('execv(')]})
    expect(canBind(PORT_A).ok).toBe(false)
    // stop without --hold lets the ports go.
    const stopped = await stopContainers(root, ['a'], {keepPorts: false})
    expect(stopped.items[0].error).toBeUndefined()
    expect(canBind(PORT_A).ok).toBe(true)
    // Released, not forgotten: ctr ls still says how often it woke and what went wrong last.
    expect(await statusOf(root, 'a')).toMatchObject({state: 'stopped', lastStopReason: 'boot-failed', wakes: expect.any(Number)})
    expect((await statusOf(root, 'a')).wakes).toBeGreaterThan(0)
  })

  it('ctr start runs the activator in the background; ctr stop releases', async () => {
    await running!.close()
    running = undefined
    const started = await ctr(root, ['start', 'b'])
    expect(started.stderr).toBe('')
    expect(started.stdout).toMatch(/started the activator \(pid \d+\)/)
    expect(started.exitCode).toBe(0)
    const ls = JSON.parse((await ctr(root, ['ls', '--json'])).stdout) as {live: boolean}
    expect(ls.live).toBe(true)
    const pid = Number((await import('node:fs')).readFileSync(join(root, 'activator/activator.lock'), 'utf8'))
    try {
      expect((await ssh(keys.key, PORT_B, 'true')).exitCode).toBe(0)
      const stopped = await ctr(root, ['stop', 'b', 'a'])
      expect(stopped.stdout).toMatch(/b: stopped/)
      expect(stopped.stderr).toMatch(/a is not started/)
      expect(stopped.exitCode).toBe(1)
      expect(canBind(PORT_B).ok).toBe(true)
    } catch (error) {
      const {readFile} = await import('node:fs/promises')
      console.log(`background activator log:\n${await readFile(join(root, 'activator/activator.log'), 'utf8').catch(() => '(none)')}`)
      throw error
    } finally {
      process.kill(pid, 'SIGTERM')
      await waitFor('the background activator to exit', () => {
        try {
          process.kill(pid, 0)
          return undefined
        } catch {
          return true
        }
      })
    }
  })
  it('an activator killed while a container runs: the next one takes it over, running, and holds the same ports', async () => {
    const {readFileSync} = await import('node:fs')
    const lockPid = () => Number(readFileSync(join(root, 'activator/activator.lock'), 'utf8'))
    // A zombie has exited (on a host whose PID 1 does not reap, it stays one).
    const alive = (pid: number) => isAlive(pid)
    expect((await ctr(root, ['start', 'b'])).exitCode).toBe(0)
    let pid = lockPid()
    try {
      expect((await ssh(keys.key, PORT_B, 'true')).exitCode).toBe(0)
      const [orphan] = await nspawnPidsFor(containerPaths(root, 'b').rootfs)
      expect(orphan).toBeGreaterThan(0)
      process.kill(pid, 'SIGKILL')
      await waitFor('the activator to die', () => (alive(pid) ? undefined : true))
      // nspawn runs in its own session: it outlives the activator, and keeps the port.
      expect(alive(orphan)).toBe(true)
      const again = await ctr(root, ['start', 'b'])
      expect(again.stdout).toMatch(/started the activator/)
      expect(again.exitCode).toBe(0)
      pid = lockPid()
      // Taken over, not powered off and booted again: the same nspawn serves on.
      expect(alive(orphan)).toBe(true)
      expect(await statusOf(root, 'b')).toMatchObject({state: 'running', pid: orphan})
      expect((await ssh(keys.key, PORT_B, 'true')).exitCode).toBe(0)
      // ctr activator --stop: the running container is powered off, the activator is gone.
      const [nspawn] = await nspawnPidsFor(containerPaths(root, 'b').rootfs)
      const stop = await ctr(root, ['activator', '--stop', '--json'])
      expect(stop.exitCode).toBe(0)
      expect(JSON.parse(stop.stdout)).toEqual({pid, poweredOff: ['b']})
      expect(alive(pid)).toBe(false)
      expect(alive(nspawn)).toBe(false)
      expect(canBind(PORT_B).ok).toBe(true)
      const again2 = await ctr(root, ['activator', '--stop'])
      expect(again2.stdout).toBe('the activator is not running')
      expect(again2.exitCode).toBe(0)
    } finally {
      if (alive(pid)) process.kill(pid, 'SIGTERM')
      await waitFor('the background activator to exit', () => (alive(pid) ? undefined : true))
    }
  })
})
