/**
 * A cgroup per container, on a host without systemd as PID 1 (on a systemd host, nspawn's
 * registration gives each container a machine scope). Without one, nspawn puts `supervisor` and
 * `payload` under its caller's cgroup, so every container of an activator shared one `/payload`:
 * when one container's systemd powered off, it removed `/payload/system.slice/system-ctr\x2dssh.slice`
 * under another's running services, whose next connection then failed ("Failed to attach to
 * cgroup ... No such file or directory": a connection closed before sshd's banner).
 *
 * Each container gets BASE/ctr/ROOT_ID/NAME in every hierarchy the host mounts (on a hybrid host:
 * the named systemd one, the unified one, and the v1 controllers that limits and freezing need),
 * BASE being PID 1's cgroup there: the same for every activator of the root, wherever each was
 * started from (a shell's session cgroup, a service's), so that one finds what another made.
 * ROOT_ID tells state roots apart. nspawn is moved into it by its trampoline before exec (spawn-nspawn.ts), and makes its
 * `supervisor` and `payload` below it; the container's systemd owns `payload`.
 */
import {createHash} from 'node:crypto'
import {existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, writeFileSync} from 'node:fs'
import {errnoCode} from '../errors.js'
import {join, resolve} from 'node:path'
import {cgroupMounts, processCgroups, type CgroupMount} from './proc.js'
import type {ContainerLimits} from '../store/containers.js'

/** The key of a hierarchy in /proc/PID/cgroup: '' for v2, its options joined for v1. */
function hierarchyKey(mount: CgroupMount): string {
  return mount.version === 2 ? '' : mount.options.join(',')
}

/** The id of a state root in cgroup paths: short, fixed, and the same for every activator of it. */
export function rootCgroupId(root: string): string {
  return createHash('sha256').update(resolve(root)).digest('hex').slice(0, 12)
}

/**
 * The v1 hierarchies a container joins besides the named systemd one: memory, pids and freezer
 * (what limits and freezing need). Not cpu/cpuacct for now: a container's group then weighs
 * as much as one host process (cpu.shares 1024 against each of the host's), and under the faults
 * suite's client loop its sshd's banner took a median of 369 ms instead of 24; CPU limits (the
 * isolation issue) need it, with a weight to match. Not blkio: in a blkio group of its own, a
 * container's cold HTTP request took 1.08-1.13x as long as the same tree booted under
 * systemd-socket-activate (3 runs of `npm run bench -- services`), and 0.95x without it. Not cpuset
 * (a new cpuset group has no CPUs until told, and refuses tasks) nor devices (nspawn's own device
 * policy applies).
 */
const V1_JOINED = new Set(['name=systemd', 'memory', 'pids', 'freezer'])

/**
 * The v1 cpu hierarchy ("cpu", or "cpu,cpuacct" where they are mounted together): joined only by a
 * container with a CPU limit (--cpus), whose quota is set there (cpu.cfs_quota_us). The weight
 * stays the default: a limited container is not meant to win from the host's processes.
 */
function isCpuKey(key: string): boolean {
  return key.split(',').includes('cpu')
}

/** rootCgroupDirsByKey's answers: the hierarchies mounted and PID 1's place in them do not change. */
const dirsByRoot = new Map<string, Map<string, string>>()

/** Where ROOT's containers' cgroups go in each hierarchy: BASE/ctr/ROOT_ID, by hierarchy key. */
function rootCgroupDirsByKey(root: string): Map<string, string> {
  let dirs = dirsByRoot.get(root)
  if (!dirs) dirsByRoot.set(root, (dirs = findRootCgroupDirs(root)))
  return dirs
}

function findRootCgroupDirs(root: string): Map<string, string> {
  const own = processCgroups(1)
  const dirs = new Map<string, string>()
  for (const mount of cgroupMounts()) {
    const key = hierarchyKey(mount)
    const base = own.get(key)
    if (base === undefined || dirs.has(key) || (mount.version === 1 && !V1_JOINED.has(key) && !isCpuKey(key))) continue
    dirs.set(key, join(mount.mountPoint, base, 'ctr', rootCgroupId(root)))
  }
  return dirs
}

/** Where ROOT's containers' cgroups go in each hierarchy: BASE/ctr/ROOT_ID. */
export function rootCgroupDirs(root: string): string[] {
  return [...rootCgroupDirsByKey(root).values()]
}

/** Container NAME's cgroup directory in every hierarchy it may join (the cpu one only with a CPU limit). */
export function containerCgroupDirs(root: string, name: string): string[] {
  return rootCgroupDirs(root).map((dir) => join(dir, name))
}

/** The directories a boot of NAME with LIMITS joins: the cpu hierarchy's only with a CPU limit. */
function joinedCgroupDirs(root: string, name: string, limits: CgroupLimits | undefined): string[] {
  return [...rootCgroupDirsByKey(root)].filter(([key]) => !isCpuKey(key) || limits?.cpus !== undefined).map(([, dir]) => join(dir, name))
}

/**
 * NAME's cgroups in the v1 hierarchies its limits are in (memory, pids, freezer), those that exist:
 * where a program entered into the running container (ctr shell) joins it. Not the named systemd
 * or unified one: their subtree is the container's systemd's (nspawn's payload).
 */
export function limitCgroupDirs(root: string, name: string): string[] {
  return [...rootCgroupDirsByKey(root)]
    .filter(([key]) => key === 'memory' || key === 'pids' || key === 'freezer' || isCpuKey(key))
    .map(([, dir]) => join(dir, name))
    .filter((dir) => existsSync(dir))
}

/** Makes NAME's cgroups, with LIMITS; returns those made (one that cannot be made is left out, and said). */
export function makeContainerCgroups(root: string, name: string, log: (message: string) => void, limits?: CgroupLimits): string[] {
  const made: string[] = []
  for (const dir of joinedCgroupDirs(root, name, limits)) {
    try {
      mkdirSync(dir, {recursive: true, mode: 0o755})
      made.push(dir)
    } catch (error) {
      log(`${name}: cannot make its cgroup ${dir}: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
  for (const failure of applyCgroupLimits(made, limits)) log(`${name}: limit not set: ${failure}`)
  return made
}

/** pids in DIR or any cgroup below it. */
export function cgroupPids(dir: string): number[] {
  const pids: number[] = []
  const walk = (d: string) => {
    try {
      for (const line of readFileSync(join(d, 'cgroup.procs'), 'utf8').split('\n')) if (line) pids.push(Number(line))
      for (const entry of readdirSync(d, {withFileTypes: true})) if (entry.isDirectory()) walk(join(d, entry.name))
    } catch {}
  }
  walk(dir)
  return [...new Set(pids)]
}

/**
 * Removes DIR and the cgroups below it, deepest first, as far as they are empty (a cgroup with
 * processes stays, and so do its parents). True when DIR is gone.
 */
export function removeCgroupTree(dir: string): boolean {
  let entries: string[]
  try {
    entries = readdirSync(dir, {withFileTypes: true}).filter((e) => e.isDirectory()).map((e) => e.name)
  } catch {
    return true
  }
  for (const entry of entries) removeCgroupTree(join(dir, entry))
  try {
    rmdirSync(dir)
    return true
  } catch {
    return false
  }
}

/** ROOT's cgroups, all its containers' with them, as far as they are empty (a root's teardown). */
export function removeRootCgroups(root: string): boolean {
  return rootCgroupDirs(root).map(removeCgroupTree).every(Boolean)
}

/**
 * After NAME's exit: its cgroups in every hierarchy, all or nothing. While any process is in any of
 * them, nothing is removed: in a container that runs (a boot that started meanwhile), rmdir of a
 * cgroup its systemd made and has not filled yet (system-ctr\x2dssh.slice between two connections)
 * makes its next service fail to attach ("No such file or directory"), and that connection is
 * closed before sshd's banner (reproduced: a loop of removals during a boot closed 7-9 of 230).
 */
export function removeContainerCgroups(root: string, name: string): boolean {
  const dirs = containerCgroupDirs(root, name)
  if (dirs.some((dir) => cgroupPids(dir).length > 0)) return false
  return dirs.map(removeCgroupTree).every(Boolean)
}

/** What the kernel enforces on a container's cgroup (ctr create/update --memory, --pids, --cpus). */
export type CgroupLimits = ContainerLimits

/** The CFS period the quota of a CPU limit is given in (the kernel's default, 100 ms). */
const CPU_PERIOD_US = 100_000

/**
 * Writes LIMITS into the container's cgroup DIRS (unset: no limit): memory.limit_in_bytes with
 * memory.memsw.limit_in_bytes (v1, so that swap is no way around it) or memory.max (v2),
 * pids.max, and the CPU quota (cpu.cfs_quota_us in v1, cpu.max in v2). Returns what could not be written, in words (a memory limit below what a running
 * container uses now is refused by the kernel until it uses less).
 */
export function applyCgroupLimits(dirs: readonly string[], limits: CgroupLimits | undefined): string[] {
  const failed: string[] = []
  const write = (dir: string, file: string, value: string) => {
    const path = join(dir, file)
    if (!existsSync(path)) return
    try {
      writeFileSync(path, value)
    } catch (error) {
      failed.push(`${file} = ${value}: ${errnoCode(error) ?? String(error)}`)
    }
  }
  const memory = limits?.memoryBytes
  const pids = limits?.pids
  const cpus = limits?.cpus
  for (const dir of dirs) {
    // memsw is at least the memory limit at every step: lifted first, then set after it.
    write(dir, 'memory.memsw.limit_in_bytes', '-1')
    write(dir, 'memory.limit_in_bytes', memory === undefined ? '-1' : String(memory))
    if (memory !== undefined) write(dir, 'memory.memsw.limit_in_bytes', String(memory))
    write(dir, 'memory.max', memory === undefined ? 'max' : String(memory))
    write(dir, 'memory.swap.max', memory === undefined ? 'max' : '0')
    write(dir, 'pids.max', pids === undefined ? 'max' : String(pids))
    const quota = cpus === undefined ? undefined : Math.max(1000, Math.round(cpus * CPU_PERIOD_US))
    write(dir, 'cpu.cfs_period_us', String(CPU_PERIOD_US))
    write(dir, 'cpu.cfs_quota_us', quota === undefined ? '-1' : String(quota))
    write(dir, 'cpu.max', `${quota ?? 'max'} ${CPU_PERIOD_US}`)
  }
  return failed
}

/** What a container uses now, read from its cgroups (ctr ls, status --json). */
export interface CgroupUsage {
  /** Memory charged to it, less the file cache the kernel can drop at once (as docker stats counts). */
  memoryBytes?: number
  /** CPU time used by the current boot, in microseconds. */
  cpuUsec?: number
  /** Processes (tasks) in it. */
  tasks?: number
}

/**
 * NAME's usage from its cgroups: memory from the v1 memory hierarchy (or memory.current where the
 * unified one has the controller), CPU time from the unified hierarchy's cpu.stat (there whether the
 * cpu controller is enabled or not) or cpuacct, tasks from pids.current. A value that cannot be
 * read is left out (no cgroup of its own: a systemd host's scope is read by systemd).
 */
export function cgroupUsage(root: string, name: string): CgroupUsage {
  const usage: CgroupUsage = {}
  for (const [key, base] of rootCgroupDirsByKey(root)) {
    const dir = join(base, name)
    if (key === 'memory') {
      const used = readNumber(join(dir, 'memory.usage_in_bytes'))
      const inactive = statField(join(dir, 'memory.stat'), 'total_inactive_file')
      if (used !== undefined) usage.memoryBytes = Math.max(0, used - (inactive ?? 0))
    } else if (key === '') {
      const current = readNumber(join(dir, 'memory.current'))
      const inactive = statField(join(dir, 'memory.stat'), 'inactive_file')
      if (current !== undefined && usage.memoryBytes === undefined) usage.memoryBytes = Math.max(0, current - (inactive ?? 0))
      const cpu = statField(join(dir, 'cpu.stat'), 'usage_usec')
      if (cpu !== undefined) usage.cpuUsec = cpu
    } else if (key === 'pids') {
      const tasks = readNumber(join(dir, 'pids.current'))
      if (tasks !== undefined) usage.tasks = tasks
    }
  }
  return usage
}

function readNumber(path: string): number | undefined {
  try {
    const value = Number(readFileSync(path, 'utf8').trim())
    return Number.isFinite(value) ? value : undefined
  } catch {
    return undefined
  }
}

/** FIELD of a flat-keyed cgroup file (memory.stat, cpu.stat: "key value" per line). */
function statField(path: string, field: string): number | undefined {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return undefined
  }
  const line = text.split('\n').find((l) => l.startsWith(`${field} `))
  return line === undefined ? undefined : Number(line.slice(field.length + 1))
}
