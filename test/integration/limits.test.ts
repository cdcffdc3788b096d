/**
 * Limits on a container's cgroup, enforced by the kernel (real nspawn): past its memory limit a
 * process inside is OOM-killed in that container only, while the container, the host and another
 * container go on; its process limit is its cgroup's pids.max; its CPU limit a CFS quota that
 * holds two busy loops to half a CPU; `ctr update` changes a running container's limits at once.
 */
import {readFileSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {containerCgroupDirs} from '../../src/activator/cgroups.js'
import {startActivator, type RunningActivator} from '../../src/activator/server.js'
import {createContainer} from '../../src/containers/create.js'
import {startContainers} from '../../src/containers/lifecycle.js'
import {wakeContainer} from '../../src/containers/shell.js'
import {updateContainer} from '../../src/containers/update.js'
import {hostHasSystemd} from '../../src/nspawn/argv.js'
import {getContainerStatus} from '../../src/status/collect.js'
import {ctr} from '../helpers/cli.js'
import {freePorts} from '../helpers/ports.js'
import {makeTestRoot, skipReason, tearDown} from '../helpers/roots.js'

const reason = skipReason() ?? (hostHasSystemd() ? 'on a systemd host limits are the scope\'s properties (issue 13\'s test bed)' : undefined)
if (reason) console.warn(`test/integration/limits.test.ts: ${reason}`)

describe.skipIf(reason)('memory and process limits on a container (real nspawn, real OOM killer)', () => {
  let root: string
  let activator: RunningActivator | undefined
  const log: string[] = []
  const [PORT_A, PORT_B, PORT_C] = freePorts(3, 25500, 11)
  const MEMORY = 64 * 1024 * 1024
  /** The container's cgroup file in the v1 hierarchy of CONTROLLER (or the unified one). */
  const cgroupFile = (name: string, controller: string, file: string): string => {
    const dir = containerCgroupDirs(root, name).find((d) => d.includes(`/${controller}/`)) ?? containerCgroupDirs(root, name).find((d) => d.includes('/unified/'))!
    return readFileSync(join(dir, file), 'utf8').trim()
  }

  beforeAll(async () => {
    root = await makeTestRoot()
    await createContainer(root, {distro: 'debian', name: 'lim', sshKeyFiles: [], idleTimeoutSec: 0, memoryBytes: MEMORY, pids: 64, ports: [{port: PORT_A, service: 'ssh'}]})
    await createContainer(root, {distro: 'debian', name: 'free', sshKeyFiles: [], idleTimeoutSec: 0, ports: [{port: PORT_B, service: 'ssh'}]})
    await createContainer(root, {distro: 'debian', name: 'halfcpu', sshKeyFiles: [], idleTimeoutSec: 0, cpus: 0.5, ports: [{port: PORT_C, service: 'ssh'}]})
    activator = await startActivator({root, log: (m) => log.push(`${new Date().toISOString()} ${m}`)})
    const started = await startContainers(root, ['lim', 'free', 'halfcpu'], {now: true})
    expect(started.items.map((i) => i.error)).toEqual([undefined, undefined, undefined])
  })

  afterAll(() => tearDown({activator, root, log}))

  it("the limits are the container's cgroup's, and only its own", async () => {
    expect(Number(cgroupFile('lim', 'memory', 'memory.limit_in_bytes'))).toBe(MEMORY)
    expect(Number(cgroupFile('lim', 'memory', 'memory.memsw.limit_in_bytes'))).toBe(MEMORY)
    expect(cgroupFile('lim', 'pids', 'pids.max')).toBe('64')
    expect(Number(cgroupFile('free', 'memory', 'memory.limit_in_bytes'))).toBeGreaterThan(2 ** 60)
    expect(cgroupFile('free', 'pids', 'pids.max')).toBe('max')
    // ctr ls --json says which limits each has.
    const listed = JSON.parse((await ctr(root, ['ls', '--json'])).stdout) as {containers: Array<{name: string; limits?: unknown}>}
    expect(listed.containers.find((c) => c.name === 'lim')?.limits).toEqual({memoryBytes: MEMORY, pids: 64})
    expect(listed.containers.find((c) => c.name === 'free')?.limits).toBeUndefined()
  })

  it('a process that allocates past the memory limit is OOM-killed inside that container only; the container goes on', async () => {
    const freeLeader = await wakeContainer(root, 'free')
    // tail keeps a line without a newline whole: 200 MB of zeros in its memory.
    const hog = await ctr(root, ['shell', 'lim', '--', 'sh', '-c', 'head -c 200M /dev/zero | tail >/dev/null; echo status=$?'])
    expect(hog.stdout).toContain('status=137')
    expect(cgroupFile('lim', 'memory', 'memory.oom_control')).toMatch(/^oom_kill [1-9]/m)
    expect(cgroupFile('free', 'memory', 'memory.oom_control')).toMatch(/^oom_kill 0$/m)
    // Both containers still run, with the same PID 1 for the other one; the limited one still serves.
    expect((await getContainerStatus(root, 'lim'))?.state).toBe('running')
    expect(await wakeContainer(root, 'free')).toBe(freeLeader)
    const after = await ctr(root, ['shell', 'lim', '--', 'systemctl', 'is-system-running'])
    expect(after.stdout).toMatch(/running|degraded/)
  })

  it('no more processes than its limit', async () => {
    // Short sleeps, their output nowhere: the shell's fork fails before the hundredth (dash may then exit).
    const forks = await ctr(root, ['shell', 'lim', '--', 'sh', '-c', 'i=0; while [ $i -lt 100 ]; do sleep 5 </dev/null >/dev/null 2>&1 & i=$((i+1)); done; kill $(jobs -p) 2>/dev/null; true'])
    expect(`${forks.stdout}\n${forks.stderr}`).toMatch(/fork|Resource temporarily unavailable|Cannot fork/i)
    expect(Number(cgroupFile('lim', 'pids', 'pids.current'))).toBeLessThanOrEqual(64)
  })

  it('--cpus 0.5: two busy loops inside get half a CPU between them (a CFS quota on its cgroup), and ctr update changes it at once', async () => {
    const cpuDir = (name: string) => containerCgroupDirs(root, name).find((d) => /\/cpu(,cpuacct)?\//.test(d))!
    expect(readFileSync(join(cpuDir('halfcpu'), 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('50000')
    // A container without a CPU limit stays out of the cpu hierarchy.
    expect(() => readFileSync(join(cpuDir('free'), 'cpu.cfs_quota_us'))).toThrow()
    // bash's `times`: the CPU time of its children, two loops of 2 s each (4 s on two free cores).
    const busy = await ctr(root, ['shell', 'halfcpu', '--', 'bash', '-c', '(timeout 2 sh -c "while :; do :; done" & timeout 2 sh -c "while :; do :; done" & wait); times'])
    const [user, system] = busy.stdout.trim().split('\n').at(-1)!.split(/\s+/).map((t) => {
      const m = /^(\d+)m([\d.]+)s$/.exec(t)!
      return Number(m[1]) * 60 + Number(m[2])
    })
    console.log(`halfcpu: two 2 s busy loops used ${(user + system).toFixed(2)} s of CPU`)
    expect(user + system).toBeLessThan(1.3)
    expect(user + system).toBeGreaterThan(0.5)
    expect(readFileSync(join(cpuDir('halfcpu'), 'cpu.stat'), 'utf8')).toMatch(/^nr_throttled [1-9]/m)
    await updateContainer(root, 'halfcpu', {cpus: 1.5})
    expect(readFileSync(join(cpuDir('halfcpu'), 'cpu.cfs_quota_us'), 'utf8').trim()).toBe('150000')
    expect((await getContainerStatus(root, 'halfcpu'))?.limits).toEqual({cpus: 1.5})
  })

  it('ctr update changes a running container\'s limits at once, and 0 lifts them', async () => {
    await updateContainer(root, 'free', {pids: 500, memoryBytes: 256 * 1024 * 1024})
    expect(cgroupFile('free', 'pids', 'pids.max')).toBe('500')
    expect(Number(cgroupFile('free', 'memory', 'memory.limit_in_bytes'))).toBe(256 * 1024 * 1024)
    await updateContainer(root, 'free', {pids: 0, memoryBytes: 0})
    expect(cgroupFile('free', 'pids', 'pids.max')).toBe('max')
    expect(Number(cgroupFile('free', 'memory', 'memory.limit_in_bytes'))).toBeGreaterThan(2 ** 60)
  })
})
