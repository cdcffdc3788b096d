/**
 * Engine defects found in review, caused for real: `ctr start` racing with `ctr rm` on a real
 * container (the activator took it back between its release and the deletion, and its next boot
 * made the directory again and booted a bare base), and a real tree that asks to reboot at once
 * (exit 133 for ever, no pause, before).
 */
import {existsSync} from 'node:fs'
import {mkdir, readdir, readFile, writeFile} from 'node:fs/promises'
import {connect} from 'node:net'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {HeldContainer} from '../../src/activator/held-container.js'
import {startActivator, type RunningActivator} from '../../src/activator/server.js'
import {prepareTree} from '../../src/activator/tree.js'
import {SocketWatcher} from '../../src/activator/watcher.js'
import {createContainer} from '../../src/containers/create.js'
import {startContainers} from '../../src/containers/lifecycle.js'
import {nspawnPidsFor} from '../../src/containers/processes.js'
import {removeContainers} from '../../src/containers/remove.js'
import {mountsUnder} from '../../src/rootfs/mount.js'
import {symlinkInTree} from '../../src/rootfs/tree-fs.js'
import {getStatus} from '../../src/status/collect.js'
import {getContainer} from '../../src/store/containers.js'
import {containerPaths, layout} from '../../src/store/paths.js'
import {canBind} from '../../src/sys/socket.js'
import {makeTestRoot, skipReason, tearDown} from '../helpers/roots.js'

const reason = skipReason()
if (reason) console.warn(`test/integration/engine.test.ts: ${reason}`)

/** A free port for this run, picked by pid so parallel runs do not collide. */
function testPort(): number {
  let port = 29000 + ((process.pid * 13) % 900)
  while (!canBind(port).ok) port++
  return port
}

/** What a connection to PORT gets within a few seconds: a line, or how it failed. */
function knock(port: number, timeoutMs = 3000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1')
    const done = (what: string) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(what)
    }
    const timer = setTimeout(() => done('(no answer)'), timeoutMs)
    socket.on('data', (chunk) => done(chunk.toString('latin1').split('\n')[0]))
    socket.on('error', (error: NodeJS.ErrnoException) => done(`(${error.code})`))
    socket.on('close', () => done('(closed)'))
  })
}

describe.skipIf(reason)('engine defects (real containers)', () => {
  let root: string
  let running: RunningActivator | undefined
  const log: string[] = []
  const port = testPort()

  beforeAll(async () => {
    root = await makeTestRoot()
    running = await startActivator({root, log: (m) => log.push(m), stopTimeoutMs: 20_000})
  })
  afterAll(() => tearDown({activator: running, root, log}))

  /** Nothing of NAME is left: no directory (hidden or not), no mount, no nspawn, its port not held. */
  async function assertGone(name: string): Promise<void> {
    expect(existsSync(containerPaths(root, name).dir)).toBe(false)
    expect((await readdir(layout(root).containers)).filter((e) => e.includes(name))).toEqual([])
    expect(await mountsUnder(layout(root).containers)).toEqual([])
    expect(await nspawnPidsFor(containerPaths(root, name).rootfs)).toEqual([])
    expect((await getStatus(root)).containers.map((c) => c.name)).not.toContain(name)
    expect(canBind(port).ok).toBe(true)
  }

  it('ctr start and ctr rm fired together: the container is gone every time, and a connection boots nothing', async () => {
    // rm fired this many ms after start (negative: before it), to land in every step of both.
    const offsets = [0, 5, 20, 60, -10, -25, -40, -55, -70, -85, -100, -130]
    for (const offset of offsets) {
      await createContainer(root, {distro: 'debian', name: 'race', ports: [{port, service: 'ssh'}]})
      const start = sleep(Math.max(0, -offset)).then(() => startContainers(root, ['race'], {now: false}))
      const rm = sleep(Math.max(0, offset)).then(() => removeContainers(root, ['race']))
      const [started, [removed]] = await Promise.all([start, rm])
      // rm always wins in the end: the container was not running, so it must be removed.
      expect(removed, `offset ${offset} ms`).toEqual({name: 'race', removed: true})
      const startError = started.items[0].error
      if (startError) expect(startError.code, `offset ${offset} ms: ${startError.message}`).toBe('NOT_FOUND')
      await assertGone('race')
      // Before, the activator could still hold the port here, and this connection booted a bare base.
      expect(await knock(port)).toBe('(ECONNREFUSED)')
      await sleep(300)
      await assertGone('race')
    }
  }, 600_000)

  it('rm while a connection wakes the held container: removed (or refused as running), never booted bare', async () => {
    for (let i = 0; i < 2; i++) {
      await createContainer(root, {distro: 'debian', name: 'wake', ports: [{port, service: 'ssh'}]})
      expect((await startContainers(root, ['wake'], {now: false})).items[0].error).toBeUndefined()
      const upper = containerPaths(root, 'wake').upper
      const [answer, [removed]] = await Promise.all([knock(port, 20_000), sleep(i * 30).then(() => removeContainers(root, ['wake']))])
      if (removed.removed) {
        await assertGone('wake')
      } else {
        // It booted before rm looked: refused, and the container is whole (its own tree, not a bare one).
        expect(removed.error?.code).toBe('RUNNING')
        expect(answer).toMatch(/^SSH-2\.0-|^\(/)
        expect((await getContainer(root, 'wake')).name).toBe('wake')
        expect(existsSync(join(upper, 'etc'))).toBe(true)
        await running!.activator.stop('wake', {keepPorts: false})
        expect((await removeContainers(root, ['wake']))[0]).toEqual({name: 'wake', removed: true})
        await assertGone('wake')
      }
    }
  }, 600_000)

  it('a tree that reboots at once is booted again after growing pauses, then left listening with the reason', async () => {
    await createContainer(root, {distro: 'debian', name: 'loop'})
    const record = await getContainer(root, 'loop')
    const tree = await prepareTree(root, record)
    // Its default target is the reboot itself: every boot ends in exit 133 within a second or so.
    await symlinkInTree(tree, '/etc/systemd/system/default.target', '/usr/lib/systemd/system/reboot.target')
    const watcher = new SocketWatcher()
    const lines: string[] = []
    const loop = new HeldContainer(
      {
        root,
        watcher,
        hostHasSystemd: false,
        stopTimeoutMs: 20_000,
        log: (m) => lines.push(`${Date.now()} ${m}`),
        prepareTree: (r) => prepareTree(root, r),
        onReleased: () => {},
        onSettled: () => {},
        rebootPolicy: {quickMs: 60_000, firstDelayMs: 200, maxDelayMs: 400, limit: 4},
      },
      record,
    )
    try {
      await loop.boot()
      const deadline = Date.now() + 120_000
      while (loop.history.lastStopReason !== 'reboot-loop' && Date.now() < deadline) await sleep(100)
      const text = lines.join('\n')
      expect(loop.history.lastStopReason, text).toBe('reboot-loop')
      expect(loop.state).toBe('listening')
      expect(loop.nspawnPid).toBeUndefined()
      expect(loop.history.lastError).toBe('rebooted 4 times in a row, each within 60 s of booting: left listening, the next connection boots it again')
      // Four boots that each ended in exit 133; the 2nd and 3rd reboot waited 200 and 400 ms.
      expect(lines.filter((l) => l.includes('nspawn exit 133 (reboot)'))).toHaveLength(4)
      expect(lines.filter((l) => / booting \(pid \d+/.test(l))).toHaveLength(4)
      expect(lines.filter((l) => l.includes('booting again in'))).toEqual([
        expect.stringContaining('quick reboot 2 in a row; booting again in 200 ms'),
        expect.stringContaining('quick reboot 3 in a row; booting again in 400 ms'),
      ])
      expect(await nspawnPidsFor(tree)).toEqual([])
      const console = await readFile(join(layout(root).activatorDir, 'loop.console.log'), 'utf8').catch(() => '')
      expect(console).toMatch(/reboot/i)
      // The next try starts from zero; a stop during one of its pauses calls the reboot off.
      lines.length = 0
      await loop.boot()
      while (!lines.some((l) => l.includes('booting again in')) && Date.now() < deadline + 60_000) await sleep(20)
      expect(loop.state).toBe('booting')
      await loop.stop({keepPorts: true, reason: 'user'})
      expect(lines.at(-1)).toMatch(/loop: reboot called off \(user\)$/)
      expect(loop.state).toBe('listening')
      expect(loop.history.lastStopReason).toBe('user')
      await sleep(500)
      expect(await nspawnPidsFor(tree)).toEqual([])
    } finally {
      await loop.stop({keepPorts: false, reason: 'user'})
      await watcher.close()
    }
    expect((await removeContainers(root, ['loop']))[0].removed).toBe(true)
  }, 300_000)

  it('ctr create without a name passes over a broken container: its directory is kept', async () => {
    const broken = containerPaths(root, 'debian-1')
    await mkdir(join(broken.upper, 'root'), {recursive: true})
    await writeFile(join(broken.upper, 'root', 'data'), 'precious\n')
    await writeFile(broken.record, '{"name": "debian-1", ')
    // Before, the name was taken for free, and create discarded the broken container's directory.
    const made = await createContainer(root, {distro: 'debian'})
    expect(made.container.name).toBe('debian-2')
    expect(await readFile(join(broken.upper, 'root', 'data'), 'utf8')).toBe('precious\n')
    await expect(createContainer(root, {distro: 'debian', name: 'debian-1'})).rejects.toMatchObject({code: 'DAMAGED', message: expect.stringMatching(/^debian-1's record is damaged \(invalid JSON/)})
    expect(await removeContainers(root, ['debian-1', 'debian-2'])).toEqual([
      {name: 'debian-1', removed: true},
      {name: 'debian-2', removed: true},
    ])
  }, 300_000)
})
