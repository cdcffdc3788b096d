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
import {mkdirSync, readdirSync, readFileSync, rmdirSync} from 'node:fs'
import {join, resolve} from 'node:path'
import {cgroupMounts, processCgroups, type CgroupMount} from './proc.js'

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

/** Where ROOT's containers' cgroups go in each hierarchy: BASE/ctr/ROOT_ID. */
export function rootCgroupDirs(root: string): string[] {
  const own = processCgroups(1)
  const dirs = new Map<string, string>()
  for (const mount of cgroupMounts()) {
    const key = hierarchyKey(mount)
    const base = own.get(key)
    if (base === undefined || dirs.has(key) || (mount.version === 1 && !V1_JOINED.has(key))) continue
    dirs.set(key, join(mount.mountPoint, base, 'ctr', rootCgroupId(root)))
  }
  return [...dirs.values()]
}

/** Container NAME's cgroup directory in every hierarchy. */
export function containerCgroupDirs(root: string, name: string): string[] {
  return rootCgroupDirs(root).map((dir) => join(dir, name))
}

/** Makes NAME's cgroups; returns those made (one that cannot be made is left out, and said). */
export function makeContainerCgroups(root: string, name: string, log: (message: string) => void): string[] {
  const made: string[] = []
  for (const dir of containerCgroupDirs(root, name)) {
    try {
      mkdirSync(dir, {recursive: true, mode: 0o755})
      made.push(dir)
    } catch (error) {
      log(`${name}: cannot make its cgroup ${dir}: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
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

/** After NAME's exit: its cgroups, in every hierarchy, as far as they are empty. */
export function removeContainerCgroups(root: string, name: string): boolean {
  return containerCgroupDirs(root, name).map(removeCgroupTree).every(Boolean)
}
