/**
 * Benchmarks of scale to zero (issue 5), each a section of `npm run bench`:
 *
 * - idle: a container with a short idle timeout, woken by a real ssh; the time from the session's
 *   end to the container gone (nspawn exited, the port held again), against the timeout.
 * - lean: the lean profile against `full`, side by side and interleaved: cold connect -> first
 *   banner byte, and the memory of the running idle container (all its processes).
 * - density: many containers from one base, each on its own port, all held at once: the
 *   activator's memory, the disk each container takes, the cold boot of random ones among them.
 *
 * Every section starts its own activator for the bench root and stops it (by pid) at the end, so a
 * section measures an activator that only did its work. Ports 30000-39999 (tests use 20000-29999).
 */
import {readFileSync} from 'node:fs'
import {rm} from 'node:fs/promises'
import {fileURLToPath} from 'node:url'
import {setTimeout as sleep} from 'node:timers/promises'
import {execa} from 'execa'
import {callActivator, ensureActivator} from '../../src/activator/client.js'
import {containerLeader} from '../../src/activator/proc.js'
import {createContainer} from '../../src/containers/create.js'
import {removeContainers} from '../../src/containers/remove.js'
import type {ContainerStatus} from '../../src/status/types.js'
import {containerPaths} from '../../src/store/paths.js'
import {canBind} from '../../src/sys/socket.js'
import {stopPid} from '../helpers/cleanup.js'
import {makeKeyPair, ssh} from '../helpers/ssh.js'
import {freePortRange, timeToFirstByte} from './activator.js'
import {median} from './stats.js'
import {processRss, treeMemory, type TreeMemory} from './tree-memory.js'

type Log = (line: string) => void

/** A sleeping container's port is held long before anyone connects; cold rounds wait this long. */
const HELD_MS = 300
/** After boot finished, time for the connection's sshd to exit before memory is read. */
const IDLE_SETTLE_MS = 1500

const mb = (bytes: number | undefined) => (bytes === undefined ? '?' : `${(bytes / 1e6).toFixed(1)} MB`)
const kb = (bytes: number) => `${(bytes / 1e3).toFixed(0)} KB`

/**
 * Runs BODY with an activator for ROOT, then lets NAMES go (so that the next section's activator
 * does not hold them again from held.json) and stops it by pid.
 */
async function withActivator<T>(root: string, names: readonly string[], body: (pid: number) => Promise<T>): Promise<T> {
  const {pid} = await ensureActivator(root)
  try {
    return await body(pid)
  } finally {
    for (const name of names) await callActivator(root, {op: 'stop', name, keepPorts: false}).catch(() => {})
    // SIGTERM: the activator powers off whatever still runs (in order), then exits.
    await stopPid(pid, 60_000)
  }
}

async function statusOf(root: string, name: string): Promise<ContainerStatus> {
  const found = (await callActivator(root, {op: 'status'})).containers.find((c) => c.name === name)
  if (!found) throw new Error(`the activator does not know ${name}`)
  return found
}

/** false once the process exited (a zombie not reaped yet counts as exited). */
function running(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

/** The activator's idle check period when none is given (the daemon gives none), read from its source. */
function defaultIdleCheckMs(): number | undefined {
  try {
    const source = readFileSync(fileURLToPath(new URL('../../../src/activator/activator.ts', import.meta.url)), 'utf8')
    const m = /idleCheckMs \?\? ([\d_]+)/.exec(source)
    return m ? Number(m[1].replaceAll('_', '')) : undefined
  } catch {
    return undefined
  }
}

// ---------------------------------------------------------------------------------------------
// idle

export interface IdleRound {
  /** From ssh's exit to the activator's idle rule first seeing no connection (its idle clock starts). */
  closeToIdleSeenMs?: number
  /** From ssh's exit (its connection closed) to the activator starting the poweroff. */
  closeToStoppingMs: number
  /** ... to the nspawn process gone. */
  closeToGoneMs: number
  /** ... to the activator watching the port again. */
  closeToListeningMs: number
  stopReason?: string
  portHeld: boolean
}

export interface IdleBench {
  timeoutSec: number
  idleCheckMs?: number
  rounds: IdleRound[]
  closeToGoneMedianMs: number
  closeToStoppingMedianMs: number
  /** Median of closeToGone minus the timeout. */
  overshootMedianMs: number
  allIdleStops: boolean
  allPortsHeld: boolean
}

/** Polls the activator from the moment the last connection closed until the container is gone. */
async function watchIdlePoweroff(root: string, name: string, closedAt: number, limitMs: number): Promise<IdleRound> {
  let pid: number | undefined
  let idleSeen: number | undefined
  let stopping: number | undefined
  let gone: number | undefined
  for (;;) {
    const status = await statusOf(root, name)
    const t = performance.now() - closedAt
    pid ??= status.pid
    if (status.idleRemainingSec !== undefined) idleSeen ??= t
    if (status.state === 'stopping') stopping ??= t
    if (pid !== undefined && !running(pid)) gone ??= t
    if (status.state === 'listening') {
      stopping ??= t
      gone ??= t
      return {closeToIdleSeenMs: idleSeen, closeToStoppingMs: stopping, closeToGoneMs: gone, closeToListeningMs: t, stopReason: status.lastStopReason, portHeld: !canBind(status.ports[0].port).ok}
    }
    if (t > limitMs) throw new Error(`${name} still ${status.state} ${Math.round(t / 1000)} s after its last connection closed`)
    await sleep(pid !== undefined && !running(pid) ? 10 : 50)
  }
}

export async function benchIdle(root: string, log: Log): Promise<IdleBench> {
  const rounds = Number(process.env.CTR_BENCH_IDLE_ROUNDS ?? 5)
  const timeoutSec = Number(process.env.CTR_BENCH_IDLE_TIMEOUT ?? 5)
  const idleCheckMs = defaultIdleCheckMs()
  const port = freePortRange(30000, 30999)
  const name = 'bench-idle'
  const key = await makeKeyPair()
  try {
    await createContainer(root, {distro: 'debian', name, ports: [{port, service: 'ssh'}], idleTimeoutSec: timeoutSec, sshKeyFiles: [key.pub]})
    log(`idle: ${name} on port ${port}, idle timeout ${timeoutSec} s, activator idle check every ${idleCheckMs ?? '?'} ms (its default); ${rounds} rounds of ssh true -> powered off`)
    const samples = await withActivator(root, [name], async () => {
      await callActivator(root, {op: 'start', name, now: false})
      const out: IdleRound[] = []
      for (let i = 0; i < rounds; i++) {
        // Each ssh after the first also shows that a container powered off for idleness wakes again.
        const result = await ssh(key.key, port, 'true')
        const closedAt = performance.now()
        if (result.exitCode !== 0) throw new Error(`ssh to ${name} failed (exit ${result.exitCode}): ${result.stderr}`)
        const round = await watchIdlePoweroff(root, name, closedAt, timeoutSec * 1000 + 3 * (idleCheckMs ?? 5000) + 60_000)
        out.push(round)
        log(
          `idle: round ${i + 1}: idle rule saw no connection ${round.closeToIdleSeenMs === undefined ? '?' : (round.closeToIdleSeenMs / 1000).toFixed(2)} s after the session closed, poweroff began at ${(round.closeToStoppingMs / 1000).toFixed(2)} s, ` +
            `nspawn gone at ${(round.closeToGoneMs / 1000).toFixed(2)} s, port watched again at ${(round.closeToListeningMs / 1000).toFixed(2)} s ` +
            `(reason ${round.stopReason}, port ${round.portHeld ? 'held' : 'NOT held'})`,
        )
      }
      return out
    })
    const gone = median(samples.map((s) => s.closeToGoneMs))
    const result: IdleBench = {
      timeoutSec,
      idleCheckMs,
      rounds: samples,
      closeToGoneMedianMs: gone,
      closeToStoppingMedianMs: median(samples.map((s) => s.closeToStoppingMs)),
      overshootMedianMs: gone - timeoutSec * 1000,
      allIdleStops: samples.every((s) => s.stopReason === 'idle'),
      allPortsHeld: samples.every((s) => s.portHeld),
    }
    log(
      `idle: median ${(gone / 1000).toFixed(2)} s from the last connection closing to the container gone, against a ${timeoutSec} s timeout ` +
        `(+${(result.overshootMedianMs / 1000).toFixed(2)} s; the rule is checked every ${idleCheckMs ?? '?'} ms; poweroff itself ${((gone - result.closeToStoppingMedianMs) / 1000).toFixed(2)} s)`,
    )
    return result
  } finally {
    await rm(key.dir, {recursive: true, force: true})
  }
}

// ---------------------------------------------------------------------------------------------
// lean versus full

interface ColdRound {
  coldMs: number
  /** What the activator reports (VmRSS of nspawn's process tree). */
  memoryBytes?: number
  tree: TreeMemory
  /** `systemctl is-system-running --wait` inside, once the boot settled. */
  systemState: string
}

/** One cold connection to a sleeping container, its memory once booted and idle, then off again (port held). */
async function coldRound(root: string, name: string, port: number): Promise<ColdRound> {
  await sleep(HELD_MS)
  const coldMs = await timeToFirstByte(port)
  const pid = (await statusOf(root, name)).pid
  const leader = pid === undefined ? undefined : containerLeader(pid)
  if (pid === undefined || leader === undefined) throw new Error(`${name} answered but has no nspawn pid or container leader`)
  // Memory is read once the boot is over (the full profile keeps starting units after sshd answers).
  const state = await execa('nsenter', ['-t', String(leader), '-a', 'systemctl', 'is-system-running', '--wait'], {reject: false, timeout: 60_000})
  await sleep(IDLE_SETTLE_MS)
  const status = await statusOf(root, name)
  const tree = treeMemory(pid)
  await callActivator(root, {op: 'stop', name, keepPorts: true})
  return {coldMs, memoryBytes: status.memoryBytes, tree, systemState: state.stdout.trim() || `exit ${state.exitCode}`}
}

interface ProfileFigures {
  coldMs: number[]
  coldMedianMs: number
  memoryBytesMedian: number
  treeRssMedian: number
  treePssMedian: number
  /** The processes of the last round, with their RSS and PSS. */
  processes: TreeMemory['processes']
  systemStates: string[]
}

export interface LeanBench {
  runs: number
  lean: ProfileFigures
  full: ProfileFigures
  coldRatio: number
  targets: {coldAtMost06OfFull: boolean; runningAtMost25MB: boolean}
}

function figures(rounds: ColdRound[]): ProfileFigures {
  const coldMs = rounds.map((r) => r.coldMs)
  return {
    coldMs,
    coldMedianMs: median(coldMs),
    memoryBytesMedian: median(rounds.map((r) => r.memoryBytes ?? NaN)),
    treeRssMedian: median(rounds.map((r) => r.tree.rssBytes)),
    treePssMedian: median(rounds.map((r) => r.tree.pssBytes)),
    processes: rounds.at(-1)?.tree.processes ?? [],
    systemStates: [...new Set(rounds.map((r) => r.systemState))],
  }
}

export async function benchLean(root: string, log: Log): Promise<LeanBench> {
  const runs = Number(process.env.CTR_BENCH_RUNS ?? 12)
  const port = freePortRange(31000, 31999, 2)
  const profiles: Array<{profile: 'lean' | 'full'; name: string; port: number}> = [
    {profile: 'lean', name: 'bench-lean', port},
    {profile: 'full', name: 'bench-full', port: port + 1},
  ]
  for (const p of profiles) await createContainer(root, {distro: 'debian', name: p.name, profile: p.profile, ports: [{port: p.port, service: 'ssh'}]})
  log(`lean: bench-lean (lean profile) on ${port}, bench-full (--profile full) on ${port + 1}; ${runs} interleaved cold rounds each, memory read once booted and idle`)
  const rounds = {lean: [] as ColdRound[], full: [] as ColdRound[]}
  const names = profiles.map((p) => p.name)
  await withActivator(root, names, async () => {
    for (const p of profiles) await callActivator(root, {op: 'start', name: p.name, now: false})
    // One untimed round each, so that neither pays for a first boot (journal files, page cache).
    for (const p of profiles) await coldRound(root, p.name, p.port)
    for (let i = 0; i < runs; i++) {
      const order = i % 2 === 0 ? profiles : [...profiles].reverse()
      for (const p of order) rounds[p.profile].push(await coldRound(root, p.name, p.port))
      const [l, f] = [rounds.lean[i], rounds.full[i]]
      log(`lean: round ${i + 1}: cold lean ${l.coldMs.toFixed(0)} ms, full ${f.coldMs.toFixed(0)} ms; running lean ${mb(l.memoryBytes)}, full ${mb(f.memoryBytes)}`)
    }
  })
  const lean = figures(rounds.lean)
  const full = figures(rounds.full)
  const coldRatio = lean.coldMedianMs / full.coldMedianMs
  for (const [label, f] of [['lean', lean], ['full', full]] as const) {
    log(
      `lean: ${label}: cold median ${f.coldMedianMs.toFixed(0)} ms; running idle ${mb(f.memoryBytesMedian)} as the activator reports it ` +
        `(RSS summed here ${mb(f.treeRssMedian)}, PSS ${mb(f.treePssMedian)}), ${f.processes.length} processes: ${f.processes.map((p) => `${p.comm} ${mb(p.rssBytes)}`).join(', ')}; system ${f.systemStates.join('/')}`,
    )
  }
  const result: LeanBench = {
    runs,
    lean,
    full,
    coldRatio,
    targets: {coldAtMost06OfFull: coldRatio <= 0.6, runningAtMost25MB: lean.memoryBytesMedian <= 25e6},
  }
  log(`lean: cold lean/full ${coldRatio.toFixed(2)} (target <= 0.6: ${result.targets.coldAtMost06OfFull ? 'met' : 'NOT met'}); running lean ${mb(lean.memoryBytesMedian)} (target <= 25 MB: ${result.targets.runningAtMost25MB ? 'met' : 'NOT met'})`)
  return result
}

// ---------------------------------------------------------------------------------------------
// density

export interface DensityBench {
  containers: number
  createSeconds: {total: number; median: number}
  holdAllSeconds: number
  activatorRssBytes: {none: number; allHeld: number; afterWakes: number; perHeldContainer: number}
  /** As created (never booted). */
  diskPerContainer: {apparentMedian: number; apparentMax: number; allocatedMedian: number; allocatedTotal: number}
  /** Allocated bytes of the sampled containers after their one boot (the journal is written then). */
  diskAfterOneBootMedian: number
  coldMs: {samples: Array<{name: string; ms: number}>; median: number}
}

/** [apparent bytes, allocated bytes] of DIR, not crossing into the overlay mounted inside it. */
async function diskOf(dir: string): Promise<[number, number]> {
  const apparent = await execa('du', ['-sxb', dir])
  const allocated = await execa('du', ['-sx', '--block-size=1', dir])
  return [Number(apparent.stdout.split(/\s/)[0]), Number(allocated.stdout.split(/\s/)[0])]
}

function pickDistinct(count: number, from: number): number[] {
  const picked = new Set<number>()
  while (picked.size < Math.min(count, from)) picked.add(Math.floor(Math.random() * from))
  return [...picked]
}

export async function benchDensity(root: string, log: Log): Promise<DensityBench> {
  const count = Number(process.env.CTR_BENCH_DENSITY ?? 200)
  const sampleCount = Number(process.env.CTR_BENCH_DENSITY_SAMPLES ?? 5)
  const first = freePortRange(32000, 39999, count)
  const names = Array.from({length: count}, (_, i) => `dense-${i}`)
  log(`density: ${count} containers from one base on ports ${first}-${first + count - 1}, all held at once`)
  const createSeconds: number[] = []
  const started = performance.now()
  for (let i = 0; i < count; i++) {
    const report = await createContainer(root, {distro: 'debian', name: names[i], ports: [{port: first + i, service: 'ssh'}]})
    createSeconds.push(report.seconds)
    if ((i + 1) % 50 === 0) log(`density: ${i + 1} created`)
  }
  const createTotal = (performance.now() - started) / 1000
  try {
    return await withActivator(root, names, async (pid) => {
      await sleep(1500)
      const none = processRss(pid)
      const holdStarted = performance.now()
      for (const name of names) await callActivator(root, {op: 'start', name, now: false})
      const holdAllSeconds = (performance.now() - holdStarted) / 1000
      // Let V8 settle after the burst of requests before reading (as the activator section does).
      await sleep(1500)
      const allHeld = processRss(pid)
      log(`density: activator ${mb(none)} RSS holding nothing, ${mb(allHeld)} holding all ${count} (held in ${holdAllSeconds.toFixed(1)} s)`)

      const disks = await Promise.all(names.map((n) => diskOf(containerPaths(root, n).dir)))
      const apparent = disks.map((d) => d[0])
      const allocated = disks.map((d) => d[1])
      const diskPerContainer = {
        apparentMedian: median(apparent),
        apparentMax: Math.max(...apparent),
        allocatedMedian: median(allocated),
        allocatedTotal: allocated.reduce((a, b) => a + b, 0),
      }
      log(
        `density: disk per container median ${kb(diskPerContainer.apparentMedian)} (max ${kb(diskPerContainer.apparentMax)}), ` +
          `${kb(diskPerContainer.allocatedMedian)} allocated; ${mb(diskPerContainer.allocatedTotal)} allocated for all ${count}`,
      )

      // Each sample is the first boot of that container (as a random one among many would be).
      const samples: Array<{name: string; ms: number}> = []
      for (const i of pickDistinct(sampleCount, count)) {
        await sleep(HELD_MS)
        const ms = await timeToFirstByte(first + i)
        samples.push({name: names[i], ms})
        log(`density: cold ${names[i]} (port ${first + i}): ${ms.toFixed(0)} ms to the banner`)
        await sleep(IDLE_SETTLE_MS)
        await callActivator(root, {op: 'stop', name: names[i], keepPorts: true})
      }
      await sleep(1500)
      const afterWakes = processRss(pid)
      const diskAfterOneBootMedian = median(await Promise.all(samples.map(async (s) => (await diskOf(containerPaths(root, s.name).dir))[1])))
      const result: DensityBench = {
        containers: count,
        createSeconds: {total: createTotal, median: median(createSeconds)},
        holdAllSeconds,
        activatorRssBytes: {none, allHeld, afterWakes, perHeldContainer: (allHeld - none) / count},
        diskPerContainer,
        diskAfterOneBootMedian,
        coldMs: {samples, median: median(samples.map((s) => s.ms))},
      }
      log(
        `density: cold boot of a random container among ${count} held: median ${result.coldMs.median.toFixed(0)} ms (${samples.length} samples); ` +
          `activator ${mb(afterWakes)} after them, ${(result.activatorRssBytes.perHeldContainer / 1e3).toFixed(1)} KB per held container`,
      )
      log(`density: disk of a container after its first boot: median ${mb(diskAfterOneBootMedian)} allocated (journal files included)`)
      return result
    })
  } finally {
    // The activator is down by now (it let every port go when stopped), so nothing is held.
    const reports = await removeContainers(root, names.slice(0, createSeconds.length))
    const failed = reports.filter((r) => !r.removed)
    log(`density: removed ${reports.length - failed.length} containers${failed.length ? `; ${failed.length} not: ${failed[0].error?.message}` : ''}`)
  }
}
