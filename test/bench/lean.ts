/**
 * Bench section lean (issue 5): the lean profile (the default) against `--profile full`, side by
 * side and interleaved in one run: cold connect -> first banner byte, and the memory of the running
 * idle container (all its processes, nspawn included, as the activator reports it; cross-checked
 * here as RSS and PSS of nspawn's process tree).
 */
import {readFileSync} from 'node:fs'
import {setTimeout as sleep} from 'node:timers/promises'
import {execa} from 'execa'
import {callActivator} from '../../src/activator/client.js'
import {DEFAULT_QUIET_MS} from '../../src/activator/activator.js'
import {childNames, containerLeader} from '../../src/activator/proc.js'
import {getProfile} from '../../src/rootfs/profiles.js'
import {createContainer} from '../../src/containers/create.js'
import {removeContainers} from '../../src/containers/remove.js'
import {freePortRange, timeToFirstByte} from './activator.js'
import {HELD_MS, IDLE_SETTLE_MS, backToSleep, errorText, logActivatorTail, mb, statusOf, withActivator, type Log} from './held.js'
import {median} from './stats.js'
import {treeMemory, type TreeMemory} from './tree-memory.js'

interface ColdRound {
  coldMs: number
  /** What the activator reports (VmRSS of nspawn's process tree), once quiet. */
  memoryBytes?: number
  /** Just booted and settled, journald still up. */
  booted: TreeMemory
  /** Quiet: after the activator stopped the profile's sleepWhenQuiet units (lean: journald). */
  tree: TreeMemory
  /** `systemctl is-system-running --wait` inside, once the boot settled. */
  systemState: string
}

/** One cold connection to a sleeping container, its memory once booted and idle, then off again (port held). */
async function coldRound(root: string, name: string, port: number, profile: string): Promise<ColdRound> {
  await sleep(HELD_MS)
  const coldMs = await timeToFirstByte(port)
  const pid = (await statusOf(root, name)).pid
  const leader = pid === undefined ? undefined : containerLeader(pid)
  if (pid === undefined || leader === undefined) throw new Error(`${name} answered but has no nspawn pid or container leader`)
  // Memory is read once the boot is over (the full profile keeps starting units after sshd answers).
  const state = await execa('nsenter', ['-t', String(leader), '-a', 'systemctl', 'is-system-running', '--wait'], {reject: false, timeout: 60_000})
  await sleep(IDLE_SETTLE_MS)
  const booted = treeMemory(pid)
  await quietDown(leader, profile)
  const status = await statusOf(root, name)
  const tree = treeMemory(pid)
  await callActivator(root, {op: 'stop', name, keepPorts: true})
  return {coldMs, memoryBytes: status.memoryBytes, booted, tree, systemState: state.stdout.trim() || `exit ${state.exitCode}`}
}

/** Waits until the activator has stopped the profile's sleepWhenQuiet processes in the container of LEADER. */
async function quietDown(leader: number, profile: string): Promise<void> {
  const sleepers = (getProfile(profile).sleepWhenQuiet ?? []).map((s) => s.process)
  const deadline = Date.now() + DEFAULT_QUIET_MS + 15_000
  while (childNames(leader).some((name) => sleepers.includes(name))) {
    if (Date.now() > deadline) throw new Error(`${sleepers.join(', ')} still running ${Math.round((DEFAULT_QUIET_MS + 15_000) / 1000)} s after the boot`)
    await sleep(100)
  }
}

interface ProfileFigures {
  coldMs: number[]
  coldMedianMs: number
  memoryBytesMedian: number
  treeRssMedian: number
  treePssMedian: number
  /** RSS of the processes inside the container (the tree without nspawn, which runs on the host). */
  insideRssMedian: number
  /** RSS of the tree just after the boot settled, before the quiet units stopped. */
  bootedRssMedian: number
  /** The processes of the last round, with their RSS and PSS. */
  processes: TreeMemory['processes']
  bootedProcesses: TreeMemory['processes']
  systemStates: string[]
}

/**
 * K lean containers from one base, all booted and idle at once: what each one adds to the host
 * when it is not alone. RSS counts a shared library page once for every process that maps it;
 * PSS splits it between them; MemAvailable is the host's own account (page cache it can drop is
 * not counted as used).
 */
interface SideBySide {
  containers: number
  rssPerContainerMedian: number
  pssPerContainer: number
  /** Of the PSS: nspawn's part (on the host) and the part of the processes inside. */
  pssNspawnPerContainer: number
  pssInsidePerContainer: number
  memAvailableDropPerContainer: number
}

function memAvailable(): number {
  const m = /^MemAvailable:\s+(\d+) kB/m.exec(readFileSync('/proc/meminfo', 'utf8'))
  if (!m) throw new Error('no MemAvailable in /proc/meminfo')
  return Number(m[1]) * 1024
}

async function sideBySide(root: string, log: Log, count: number): Promise<SideBySide> {
  // Below the density section's range (32000-), which would find these ports exposed.
  const first = freePortRange(31100, 31999, count)
  const names = Array.from({length: count}, (_, i) => `bench-side${i}`)
  for (const [i, name] of names.entries()) await createContainer(root, {distro: 'debian', name, ports: [{port: first + i, service: 'ssh'}]})
  const result = await withActivator(root, names, log, async () => {
    for (const name of names) await callActivator(root, {op: 'start', name, now: false})
    await sleep(IDLE_SETTLE_MS)
    const before = memAvailable()
    for (const [i] of names.entries()) await timeToFirstByte(first + i)
    const pids: number[] = []
    for (const name of names) {
      const pid = (await statusOf(root, name)).pid
      const leader = pid === undefined ? undefined : containerLeader(pid)
      if (pid === undefined || leader === undefined) throw new Error(`${name} is not running after its wake`)
      await quietDown(leader, 'lean')
      pids.push(pid)
    }
    await sleep(IDLE_SETTLE_MS)
    const after = memAvailable()
    const trees = pids.map((pid) => treeMemory(pid))
    const sum = (f: (t: TreeMemory) => number) => trees.reduce((n, t) => n + f(t), 0) / count
    const result: SideBySide = {
      containers: count,
      rssPerContainerMedian: median(trees.map((t) => t.rssBytes)),
      pssPerContainer: sum((t) => t.pssBytes),
      pssNspawnPerContainer: sum((t) => t.processes[0]?.pssBytes ?? 0),
      pssInsidePerContainer: sum((t) => t.pssBytes - (t.processes[0]?.pssBytes ?? 0)),
      memAvailableDropPerContainer: (before - after) / count,
    }
    log(
      `lean: ${count} quiet lean containers running side by side: each ${mb(result.rssPerContainerMedian)} RSS (median), ` +
        `${mb(result.pssPerContainer)} PSS (nspawn ${mb(result.pssNspawnPerContainer)}, inside ${mb(result.pssInsidePerContainer)}); ` +
        `the host's MemAvailable dropped ${mb(result.memAvailableDropPerContainer)} per container`,
    )
    return result
  })
  await removeContainers(root, names)
  return result
}

export interface LeanBench {
  runs: number
  lean: ProfileFigures
  full: ProfileFigures
  coldRatio: number
  sideBySide: SideBySide
  /** Cold rounds that failed (a reset or no banner): left out of the medians. */
  failures: string[]
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
    insideRssMedian: median(rounds.map((r) => r.tree.rssBytes - (r.tree.processes[0]?.rssBytes ?? 0))),
    bootedRssMedian: median(rounds.map((r) => r.booted.rssBytes)),
    processes: rounds.at(-1)?.tree.processes ?? [],
    bootedProcesses: rounds.at(-1)?.booted.processes ?? [],
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
  const failures: string[] = []
  const names = profiles.map((p) => p.name)
  await withActivator(root, names, log, async () => {
    for (const p of profiles) await callActivator(root, {op: 'start', name: p.name, now: false})
    // One untimed round each, so that neither pays for a first boot (journal files, page cache).
    for (const p of profiles) await coldRound(root, p.name, p.port, p.profile)
    for (let i = 0; i < runs; i++) {
      const order = i % 2 === 0 ? profiles : [...profiles].reverse()
      const line: string[] = []
      for (const p of order) {
        try {
          const r = await coldRound(root, p.name, p.port, p.profile)
          rounds[p.profile].push(r)
          line.push(`${p.profile} cold ${r.coldMs.toFixed(0)} ms, booted ${mb(r.booted.rssBytes)}, quiet ${mb(r.memoryBytes)}`)
        } catch (error) {
          // A finding, not the end of the run: the round is left out of the medians.
          failures.push(`round ${i + 1} ${p.profile}: ${errorText(error)}`)
          line.push(`${p.profile} FAILED: ${errorText(error)}`)
          logActivatorTail(root, log, 8)
          await backToSleep(root, p.name)
        }
      }
      log(`lean: round ${i + 1}: ${line.join('; ')}`)
    }
  })
  const lean = figures(rounds.lean)
  const full = figures(rounds.full)
  const side = await sideBySide(root, log, Number(process.env.CTR_BENCH_SIDE ?? 8))
  const coldRatio = lean.coldMedianMs / full.coldMedianMs
  for (const [label, f] of [['lean', lean], ['full', full]] as const) {
    log(
      `lean: ${label}: cold median ${f.coldMedianMs.toFixed(0)} ms; just booted ${mb(f.bootedRssMedian)} (${f.bootedProcesses.map((p) => `${p.comm} ${mb(p.rssBytes)}`).join(', ')}); running idle ${mb(f.memoryBytesMedian)} as the activator reports it ` +
        `(RSS summed here ${mb(f.treeRssMedian)}, PSS ${mb(f.treePssMedian)}), ${f.processes.length} processes: ${f.processes.map((p) => `${p.comm} ${mb(p.rssBytes)}`).join(', ')}; system ${f.systemStates.join('/')}`,
    )
  }
  const result: LeanBench = {
    runs,
    lean,
    full,
    coldRatio,
    sideBySide: side,
    failures,
    targets: {coldAtMost06OfFull: coldRatio <= 0.6, runningAtMost25MB: lean.memoryBytesMedian <= 25e6},
  }
  log(`lean: cold lean/full ${coldRatio.toFixed(2)} (target <= 0.6: ${result.targets.coldAtMost06OfFull ? 'met' : 'NOT met'}); running lean ${mb(lean.memoryBytesMedian)} RSS with nspawn, ${mb(lean.insideRssMedian)} inside (target <= 25 MB with nspawn, as the 46 MB of a default boot is counted: ${result.targets.runningAtMost25MB ? 'met' : 'NOT met'}); full ${mb(full.memoryBytesMedian)} with nspawn, ${mb(full.insideRssMedian)} inside; ${failures.length} cold rounds failed`)
  return result
}
