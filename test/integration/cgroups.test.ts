/**
 * A cgroup per container (src/activator/cgroups.ts), with real nspawn: each container's processes
 * are under ctr/ROOT_ID/NAME in every hierarchy it joins, its systemd manages its own subtree, a
 * poweroff removes its cgroups and nothing of the other container's. And the defect this fixed:
 * with one shared `/payload`, a container powering off removed cgroups another one's services
 * were being started in, and a connection to that other container was closed before sshd's banner.
 * The same happened within one container when a late removal of its cgroups (a retry after its
 * last exit, in an activator that had handed over meanwhile) hit its next boot: a removal that finds
 * any process in the container's cgroups must remove nothing.
 */
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {containerCgroupDirs, removeContainerCgroups, rootCgroupId} from '../../src/activator/cgroups.js'
import {processCgroups} from '../../src/activator/proc.js'
import {startActivator, type RunningActivator} from '../../src/activator/server.js'
import {createContainer} from '../../src/containers/create.js'
import {startContainers, stopContainers} from '../../src/containers/lifecycle.js'
import {wakeContainer} from '../../src/containers/shell.js'
import {ClientLoop, describeLost} from '../faults/probe.js'
import {freePorts} from '../helpers/ports.js'
import {makeTestRoot, skipReason, tearDown} from '../helpers/roots.js'

const reason = skipReason()
if (reason) console.warn(`test/integration/cgroups.test.ts: ${reason}`)

describe.skipIf(reason)('a cgroup per container (real nspawn)', () => {
  let root: string
  let activator: RunningActivator | undefined
  const log: string[] = []
  const [PORT_A, PORT_B] = freePorts(2, 25000, 7)
  /** NAME's cgroups that a boot without a CPU limit joins: all but the cpu hierarchy's. */
  const joined = (name: string) => containerCgroupDirs(root, name).filter((d) => !/\/cpu(,cpuacct)?\//.test(d))

  beforeAll(async () => {
    root = await makeTestRoot()
    for (const [name, port] of [['cga', PORT_A], ['cgb', PORT_B]] as const) {
      await createContainer(root, {distro: 'debian', name, sshKeyFiles: [], idleTimeoutSec: 0, ports: [{port, service: 'ssh'}]})
    }
    activator = await startActivator({root, log: (m) => log.push(`${new Date().toISOString()} ${m}`)})
    const started = await startContainers(root, ['cga', 'cgb'], {now: true})
    expect(started.items.map((i) => i.error)).toEqual([undefined, undefined])
  })

  afterAll(() => tearDown({activator, root, log}))

  it("each container's PID 1 is in its own cgroup in every hierarchy it joins, its systemd's subtree below it", async () => {
    const id = rootCgroupId(root)
    for (const name of ['cga', 'cgb']) {
      const leader = await wakeContainer(root, name)
      const cgroups = processCgroups(leader)
      // nspawn puts the container's systemd in payload/ of the named systemd and the unified hierarchy.
      expect(cgroups.get('name=systemd')).toMatch(new RegExp(`^/ctr/${id}/${name}/payload(/|$)`))
      if (cgroups.has('')) expect(cgroups.get('')).toMatch(new RegExp(`^/ctr/${id}/${name}/payload(/|$)`))
      if (cgroups.has('memory')) expect(cgroups.get('memory')).toBe(`/ctr/${id}/${name}`)
      if (cgroups.has('pids')) expect(cgroups.get('pids')).toBe(`/ctr/${id}/${name}`)
      // Its systemd manages the subtree: its own init.scope and system.slice under its own payload.
      const systemdDir = containerCgroupDirs(root, name).find((d) => d.startsWith('/sys/fs/cgroup/systemd/'))
      if (systemdDir) {
        for (const unit of ['init.scope', 'system.slice']) {
          // PID 1 may be early in its boot: system.slice comes with its first service.
          for (let waited = 0; waited < 10_000 && !existsSync(join(systemdDir, 'payload', unit)); waited += 50) await sleep(50)
          expect(existsSync(join(systemdDir, 'payload', unit)), unit).toBe(true)
        }
      }
    }
  })

  it("ls's figures of a running container come from its cgroups: memory, CPU time, tasks", async () => {
    const report = await activator!.activator.status()
    const c = report.containers.find((s) => s.name === 'cgb')!
    expect(c.state).toBe('running')
    const pidsDir = containerCgroupDirs(root, 'cgb').find((d) => d.startsWith('/sys/fs/cgroup/pids/'))
    if (pidsDir) {
      // systemd, journald and at least one more: as many as pids.current says (give or take one exiting).
      expect(c.tasks).toBeGreaterThanOrEqual(3)
      expect(Math.abs(c.tasks! - Number(readFileSync(join(pidsDir, 'pids.current'), 'utf8')))).toBeLessThanOrEqual(2)
    }
    // A booted Debian container charges some MB, and its boot took some CPU time.
    expect(c.memoryBytes).toBeGreaterThan(4 * 1024 * 1024)
    expect(c.memoryBytes).toBeLessThan(512 * 1024 * 1024)
    expect(c.cpuSec).toBeGreaterThan(0)
  })

  it("a poweroff removes that container's cgroups only; the other's connections are all served through 3 boots and poweroffs of its neighbour", async () => {
    const loop = new ClientLoop([PORT_B], 20)
    const events: {at: number; what: string}[] = [{at: Date.now(), what: 'loop start'}]
    for (let i = 1; i <= 3; i++) {
      events.push({at: Date.now(), what: `poweroff ${i} of cga`})
      expect((await stopContainers(root, ['cga'], {keepPorts: true})).items[0].error).toBeUndefined()
      for (const dir of containerCgroupDirs(root, 'cga')) expect(existsSync(dir), dir).toBe(false)
      for (const dir of joined('cgb')) expect(existsSync(dir), dir).toBe(true)
      events.push({at: Date.now(), what: `boot ${i} of cga`})
      expect((await startContainers(root, ['cga'], {now: true})).items[0].error).toBeUndefined()
      await wakeContainer(root, 'cga')
      await sleep(300)
    }
    const [tally] = await loop.stop()
    expect(tally.results.length).toBeGreaterThan(20)
    expect(describeLost(PORT_B, tally.results, events)).toEqual([])
    // The one left running still has its cgroups, with its processes in them.
    const memory = containerCgroupDirs(root, 'cgb').find((d) => d.startsWith('/sys/fs/cgroup/memory/'))
    if (memory) expect(readFileSync(join(memory, 'cgroup.procs'), 'utf8').trim()).not.toBe('')
  })

  it("a removal of a booting container's cgroups removes nothing: removals every 20 ms during a wake under a 20 ms client loop lose no connection", async () => {
    expect((await stopContainers(root, ['cga'], {keepPorts: true})).items[0].error).toBeUndefined()
    // The loop's first connection wakes cga; its systemd makes its slices while connections come in.
    const loop = new ClientLoop([PORT_A], 20)
    const events = [{at: Date.now(), what: 'loop start (wakes cga)'}]
    const answers: boolean[] = []
    const end = Date.now() + 1500
    while (Date.now() < end) {
      answers.push(removeContainerCgroups(root, 'cga'))
      await sleep(20)
    }
    await sleep(1500)
    const [tally] = await loop.stop()
    expect(answers.length).toBeGreaterThan(40)
    // Once nspawn runs in them, not one removal may succeed (the first ones may come before the boot).
    expect(answers.slice(answers.indexOf(false)).every((removed) => removed === false)).toBe(true)
    for (const dir of joined('cga')) expect(existsSync(dir), dir).toBe(true)
    expect(tally.results.length).toBeGreaterThan(100)
    expect(describeLost(PORT_A, tally.results, events)).toEqual([])
  })
})
