/**
 * Scale to zero with the real tools: a container with a short idle timeout powers off when no
 * connection is left, keeps its port held, and boots again on the next one; connections that
 * arrive while it powers off wait in the host's socket and are served by the next boot.
 */
import {connect} from 'node:net'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {callActivator} from '../../src/activator/client.js'
import {startActivator, type RunningActivator} from '../../src/activator/server.js'
import {createContainer} from '../../src/containers/create.js'
import {startContainers} from '../../src/containers/lifecycle.js'
import {getStatus} from '../../src/status/collect.js'
import type {ContainerStatus} from '../../src/status/types.js'
import {canBind} from '../../src/sys/socket.js'
import {probe, type ProbeResult} from '../faults/probe.js'
import {freePort} from '../helpers/ports.js'
import {makeTestRoot, skipReason, tearDown} from '../helpers/roots.js'
import {makeKeyPair, ssh} from '../helpers/ssh.js'

const reason = skipReason()
if (reason) console.warn(`test/integration/idle.test.ts: ${reason}`)

describe.skipIf(reason)('idle shutdown (real nspawn, real sshd, real ssh)', () => {
  let root: string
  let keys: Awaited<ReturnType<typeof makeKeyPair>>
  let activator: RunningActivator | undefined
  const log: string[] = []
  const port = freePort(29000)
  const status = async (): Promise<ContainerStatus> => (await getStatus(root)).containers.find((c) => c.name === 'sleepy')!

  beforeAll(async () => {
    keys = await makeKeyPair()
    root = await makeTestRoot()
    await createContainer(root, {distro: 'debian', name: 'sleepy', sshKeyFiles: [keys.pub], idleTimeoutSec: 2, ports: [{port, service: 'ssh'}]})
    activator = await startActivator({root, log: (m) => log.push(`${new Date().toISOString()} ${m}`), stopTimeoutMs: 20_000, idleCheckMs: 200})
    expect((await startContainers(root, ['sleepy'], {now: false})).items[0].error).toBeUndefined()
  })

  afterAll(() => tearDown({activator, root, keys, log}))

  it('powers off after the session ends and the timeout passes; the port stays held; the next ssh wakes it', async () => {
    expect((await ssh(keys.key, port, 'true')).exitCode).toBe(0)
    expect((await status()).state).toBe('running')
    const closedAt = Date.now()
    let s = await status()
    while (!(s.state === 'listening' && s.lastStopReason === 'idle') && Date.now() - closedAt < 60_000) {
      await sleep(100)
      s = await status()
    }
    expect(s).toMatchObject({state: 'listening', lastStopReason: 'idle'})
    // Not before the timeout (2 s), and not much after it (poweroff of a lean container is quick).
    expect(Date.now() - closedAt).toBeGreaterThanOrEqual(2000)
    expect(canBind(port).ok).toBe(false)
    expect((await ssh(keys.key, port, 'true')).exitCode).toBe(0)
    expect((await status()).wakes).toBe(s.wakes + 1)
  })

  it('an open ssh session keeps it up past the timeout', async () => {
    const session = await ssh(keys.key, port, 'sleep 6; cat /proc/uptime')
    expect(session.exitCode).toBe(0)
    // The container has been up for the whole session: longer than 3 timeouts.
    expect(Number(session.stdout.split(' ')[0])).toBeGreaterThan(6)
  })

  it('20 clients connecting through idle poweroffs and boots: every connection succeeds', async () => {
    const wakesBefore = (await status()).wakes
    const failures: string[] = []
    let attempts = 0
    const burst = async () =>
      Promise.all(
        Array.from({length: 20}, async (_, i) => {
          await sleep(Math.random() * 300)
          attempts++
          const result = await ssh(keys.key, port, 'true')
          if (result.exitCode !== 0) failures.push(`client ${i}: exit ${result.exitCode} ${result.stderr.trim()}`)
        }),
      )
    for (let round = 0; round < 3; round++) {
      await burst()
      // Wait for the idle rule to start powering it off, then hit it again in that window.
      const deadline = Date.now() + 30_000
      let s = await status()
      while (s.state === 'running' && Date.now() < deadline) {
        await sleep(20)
        s = await status()
      }
      await burst()
    }
    expect(failures).toEqual([])
    expect(attempts).toBe(120)
    expect((await status()).wakes).toBeGreaterThanOrEqual(wakesBefore + 2)
  })

  it('ctr stop --hold while clients connect every 30 ms: each connection is served, those of the poweroff by the next boot', async () => {
    expect((await ssh(keys.key, port, 'true')).exitCode).toBe(0)
    const results: ProbeResult[] = []
    const end = Date.now() + 6000
    const loop = (async () => {
      while (Date.now() < end) {
        results.push(await probe(port))
        await sleep(30)
      }
    })()
    await sleep(1500)
    // Powered off; a connection that waited meanwhile has it booting again at once.
    const stopped = await callActivator(root, {op: 'stop', name: 'sleepy', keepPorts: true})
    expect(['listening', 'booting', 'running']).toContain(stopped.state)
    await loop
    // Without its socket units stopped first, the container's systemd accepted a connection during
    // its shutdown and closed it unserved (seen on a systemd host: 1 of 158).
    expect(results.filter((r) => r.outcome !== 'ok').map((r) => `${r.outcome} ${r.detail ?? ''}`)).toEqual([])
    expect(results.length).toBeGreaterThan(50)
    expect(log.some((l) => /sleepy: powering off \(user, ports stay held\)/.test(l))).toBe(true)
  })

  it('ctr stop --hold gives the connections the container accepted 2 s to end: one that ends is not cut, one still open then ends with the poweroff', async () => {
    // A client that has read sshd's banner and holds the connection (waking the container if it sleeps).
    const greeted = async () => {
      const socket = connect(port, '127.0.0.1')
      const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now())))
      await new Promise<void>((resolve, reject) => {
        socket.once('data', (chunk) => (chunk.toString('latin1').startsWith('SSH-') ? resolve() : reject(new Error(`not a banner: ${chunk.toString('latin1')}`))))
        socket.once('error', reject)
      })
      return {socket, closed}
    }
    const stopLines = () => log.filter((l) => /sleepy: \d+ session\(s\) open at the stop end with the poweroff/.test(l)).length
    const linesBefore = stopLines()

    // Ends 400 ms into the stop: waited for, not cut, and not reported.
    const ending = await greeted()
    let started = Date.now()
    setTimeout(() => ending.socket.end(), 400)
    await callActivator(root, {op: 'stop', name: 'sleepy', keepPorts: true})
    // Closed by the client (400 ms in), not by the poweroff before that.
    expect(await ending.closed).toBeGreaterThanOrEqual(started + 400)
    expect(stopLines()).toBe(linesBefore)
    expect((await status()).state).toBe('listening')

    // Still open after 2 s: the poweroff goes ahead and ends it.
    const staying = await greeted()
    started = Date.now()
    await callActivator(root, {op: 'stop', name: 'sleepy', keepPorts: true})
    expect(Date.now() - started).toBeGreaterThanOrEqual(2000)
    expect(stopLines()).toBe(linesBefore + 1)
    expect(await staying.closed).toBeGreaterThanOrEqual(started + 2000)
    expect((await status()).state).toBe('listening')
  })

  it('ctr rm of a sleeping container lets its held port go', async () => {
    const {stopContainers} = await import('../../src/containers/lifecycle.js')
    await stopContainers(root, ['sleepy'], {keepPorts: true})
    expect((await status()).state).toBe('listening')
    expect(canBind(port).ok).toBe(false)
    const {ctr} = await import('../helpers/cli.js')
    const result = await ctr(root, ['rm', '--force', 'sleepy'])
    expect(result.exitCode).toBe(0)
    expect(canBind(port).ok).toBe(true)
    expect((await getStatus(root)).containers.map((c) => c.name)).not.toContain('sleepy')
  })
})

describe.skipIf(reason)('a container that does not power off in time', () => {
  let root: string
  let activator: RunningActivator | undefined

  afterAll(() => tearDown({activator, root}))

  it('is killed whole, its init included, so no process of it keeps the port', async () => {
    const {stopContainers} = await import('../../src/containers/lifecycle.js')
    const {nspawnPidsFor} = await import('../../src/containers/processes.js')
    const {containerPaths} = await import('../../src/store/paths.js')
    const {execa} = await import('execa')
    root = await makeTestRoot()
    const port = freePort(29000)
    await createContainer(root, {distro: 'debian', name: 'stubborn', ports: [{port, service: 'ssh'}]})
    // A poweroff grace of 1 ms: SIGKILL follows SIGTERM at once, as after a hung shutdown.
    activator = await startActivator({root, stopTimeoutMs: 1, idleCheckMs: 200})
    expect((await startContainers(root, ['stubborn'], {now: true})).items[0].error).toBeUndefined()
    const rootfs = containerPaths(root, 'stubborn').rootfs
    expect(await nspawnPidsFor(rootfs)).toHaveLength(1)
    expect((await stopContainers(root, ['stubborn'], {keepPorts: false})).items[0].error).toBeUndefined()
    expect(await nspawnPidsFor(rootfs)).toEqual([])
    // Nothing of the container is left: no process has its tree as root directory.
    const {stdout} = await execa('sh', ['-c', `for p in /proc/[0-9]*; do [ "$(readlink $p/root)" = "${rootfs}" ] && echo $p; done; true`])
    expect(stdout).toBe('')
    expect(canBind(port).ok).toBe(true)
  })
})

describe.skipIf(reason)('a quiet lean container (journald sleeps until something logs)', () => {
  let root: string
  let keys: Awaited<ReturnType<typeof makeKeyPair>>
  let activator: RunningActivator | undefined
  const port = freePort(29000)

  /** The names of the processes under the container's PID 1. */
  const inside = async (): Promise<string[]> => {
    const {containerLeader, childNames} = await import('../../src/activator/proc.js')
    const pid = (await getStatus(root)).containers.find((c) => c.name === 'quiet')?.pid
    const leader = pid === undefined ? undefined : containerLeader(pid)
    if (leader === undefined) throw new Error('quiet is not running')
    return childNames(leader)
  }
  const journaldGone = async () => {
    const deadline = Date.now() + 15_000
    while ((await inside()).includes('systemd-journal')) {
      if (Date.now() > deadline) throw new Error(`journald still runs in the quiet container: ${(await inside()).join(', ')}`)
      await sleep(100)
    }
  }

  beforeAll(async () => {
    keys = await makeKeyPair()
    root = await makeTestRoot()
    // No idle timeout: it stays up, quiet.
    await createContainer(root, {distro: 'debian', name: 'quiet', sshKeyFiles: [keys.pub], ports: [{port, service: 'ssh'}]})
    activator = await startActivator({root, stopTimeoutMs: 20_000, idleCheckMs: 200, quietMs: 1000})
    expect((await startContainers(root, ['quiet'], {now: false})).items[0].error).toBeUndefined()
  })

  afterAll(() => tearDown({activator, root, keys}))

  it('stops journald once no connection is left; the next session starts it by logging, and its lines are kept', async () => {
    const {readLogs} = await import('../../src/containers/logs.js')
    expect((await ssh(keys.key, port, 'true')).exitCode).toBe(0)
    const awake = (await getStatus(root)).containers.find((c) => c.name === 'quiet')!.memoryBytes!
    await journaldGone()
    const asleep = (await getStatus(root)).containers.find((c) => c.name === 'quiet')!
    expect(asleep.state).toBe('running')
    // ls counts the container's cgroup: journald's own memory goes with it (1.3 MB measured); the journal
    // files it had mapped stay a while as page cache the kernel can drop (RSS fell by over 4 MB).
    expect(awake - asleep.memoryBytes!).toBeGreaterThan(5e5)
    for (const round of [1, 2]) {
      const marker = `quiet-round-${round}-${process.pid}`
      const session = await ssh(keys.key, port, `logger -t ctrtest ${marker}; systemctl is-active systemd-journald`)
      expect(session.stdout).toBe('active')
      expect(await readLogs(root, 'quiet', 100)).toMatch(new RegExp(`ctrtest\\[\\d+\\]: ${marker}`))
      await journaldGone()
    }
  })

  it('an open session keeps journald up', async () => {
    const session = await ssh(keys.key, port, 'logger -t ctrtest open; sleep 3; systemctl is-active systemd-journald')
    expect(session.stdout).toBe('active')
  })
})
