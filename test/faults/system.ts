/**
 * What the fault cases look at from outside: the activator's and the socket holder's pids from
 * their files, `ctr ls --json` through the real CLI, and the host's /proc and mountinfo, to tell
 * whether a tree runs twice, has processes while ctr says it is off, or left a mount behind.
 */
import {readdirSync, readFileSync, readlinkSync, statSync} from 'node:fs'
import {readFile, readlink} from 'node:fs/promises'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {activatorLockFile} from '../../src/activator/protocol.js'
import {isNamespaceInit} from '../../src/activator/proc.js'
import {nspawnPidsFor} from '../../src/containers/processes.js'
import {mountsUnder} from '../../src/rootfs/mount.js'
import type {ContainerStatus, StatusReport} from '../../src/status/types.js'
import {containerPaths, layout} from '../../src/store/paths.js'
import {canBind} from '../../src/sys/socket.js'
import {ctr} from '../helpers/cli.js'
import {holderPid} from '../helpers/cleanup.js'
import {destroyTestRoot} from '../helpers/roots.js'

export {holderPid}

/** COUNT free ports in a row, from a range picked by pid so that parallel runs do not collide. */
export function freePorts(count: number, from = 21000, to = 22999): number[] {
  let start = from + ((process.pid * 13) % (to - from - count))
  for (let tries = 0; tries < to - from; tries++) {
    const ports = Array.from({length: count}, (_, i) => start + i)
    if (ports.every((p) => p < to && canBind(p).ok)) return ports
    start = start + count >= to - count ? from : start + count
  }
  throw new Error(`no ${count} free ports in ${from}-${to}`)
}

export async function waitFor<T>(what: string, probe: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs = 60_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await probe()
    if (value !== undefined && value !== false) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(everyMs)
  }
}

/** The activator's pid: the first line of ROOT/activator/activator.lock. */
export async function activatorPid(root: string): Promise<number | undefined> {
  const text = await readFile(activatorLockFile(root), 'utf8').catch(() => '')
  const pid = Number(text.split('\n')[0].trim())
  return Number.isInteger(pid) && pid > 0 ? pid : undefined
}


export function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** `ctr ls --json` through the real CLI (which starts an activator when none runs). */
export async function ls(root: string, cli = ctr): Promise<StatusReport> {
  const result = await cli(root, ['ls', '--json'])
  if (result.exitCode !== 0) throw new Error(`ctr ls --json: exit ${result.exitCode}: ${result.stderr}`)
  return JSON.parse(result.stdout) as StatusReport
}

export async function statusOf(root: string, name: string): Promise<ContainerStatus> {
  const found = (await ls(root)).containers.find((c) => c.name === name)
  if (!found) throw new Error(`ctr ls does not list ${name}`)
  return found
}

/**
 * The container's init as the host sees it: the child of nspawn (from
 * /proc/NSPAWN/task/NSPAWN/children) that is PID 1 of another pid namespace.
 */
export async function initOf(nspawnPid: number): Promise<number | undefined> {
  const own = await readlink(`/proc/${nspawnPid}/ns/pid`).catch(() => undefined)
  const children = (await readFile(`/proc/${nspawnPid}/task/${nspawnPid}/children`, 'utf8').catch(() => '')).split(' ').filter(Boolean).map(Number)
  for (const child of children) {
    const ns = await readlink(`/proc/${child}/ns/pid`).catch(() => undefined)
    if (ns !== undefined && ns !== own && isNamespaceInit(child)) return child
  }
  return undefined
}

/**
 * Processes (pids) that run in container NAME's tree. readlink(/proc/PID/root) cannot tell: a
 * container's processes live in nspawn's mount namespace, whose root the host sees as "/". So a
 * process of another mount namespace counts as in the tree when its root directory is the tree's
 * (same device and inode), or when the mount at its "/" is the container's (the overlay's upperdir,
 * or a copy's directory, named in its /proc/PID/mountinfo).
 */
export function processesIn(root: string, name: string): number[] {
  const paths = containerPaths(root, name)
  let tree: {dev: number; ino: number} | undefined
  try {
    const st = statSync(paths.rootfs)
    tree = {dev: st.dev, ino: st.ino}
  } catch {}
  const ownNs = readlinkOr(`/proc/self/ns/mnt`)
  const found: number[] = []
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    const pid = Number(entry)
    const ns = readlinkOr(`/proc/${pid}/ns/mnt`)
    if (ns === undefined || ns === ownNs) continue
    let inTree = false
    try {
      const st = statSync(`/proc/${pid}/root`)
      inTree = tree !== undefined && st.dev === tree.dev && st.ino === tree.ino
    } catch {}
    if (!inTree) {
      let mountinfo = ''
      try {
        mountinfo = readFileSync(`/proc/${pid}/mountinfo`, 'utf8')
      } catch {}
      const top = mountinfo.split('\n').find((line) => line.split(' ')[4] === '/')
      inTree = top !== undefined && (top.includes(`${paths.dir}/`) || top.split(' ')[3] === paths.rootfs)
    }
    if (inTree) found.push(pid)
  }
  return found
}

function readlinkOr(path: string): string | undefined {
  try {
    return readlinkSync(path)
  } catch {
    return undefined
  }
}

/** Destroys a test root (test/helpers/cleanup.ts), and its socket holder if that outlived it. */
export async function destroyRootAndHolder(root: string): Promise<void> {
  const holder = await holderPid(root)
  await destroyTestRoot(root)
  if (holder !== undefined && alive(holder)) {
    const argv0 = readFileSync(`/proc/${holder}/cmdline`, 'utf8').split('\0')[0]
    if (argv0 === `ctr-socket-holder ${root}`) process.kill(holder, 'SIGKILL')
  }
}

const ON = new Set(['booting', 'running', 'stopping'])

/**
 * Everything that must hold after a fault, as a list of what is wrong (empty: all well):
 * - at most one instance per tree: one nspawn and one namespace init at most;
 * - no orphans: no process has the tree as root while ctr ls says the container is off;
 * - a container ctr ls says is running has the nspawn ls names;
 * - no stale mounts: every mount under ROOT is the rootfs of a listed container, once;
 * - nothing half-made is listed: every listed container has its record and a known state.
 */
export async function problems(root: string, report?: StatusReport): Promise<string[]> {
  const status = report ?? (await ls(root))
  const wrong: string[] = []
  const rootfses = new Set<string>()
  for (const c of status.containers) {
    const tree = containerPaths(root, c.name).rootfs
    rootfses.add(tree)
    const inTree = processesIn(root, c.name)
    if (c.state === 'broken') wrong.push(`${c.name} is listed broken: ${c.lastError}`)
    const nspawns = await nspawnPidsFor(tree)
    const inits = inTree.filter(isNamespaceInit)
    if (nspawns.length > 1) wrong.push(`${c.name}: ${nspawns.length} nspawn processes on one tree (${nspawns.join(', ')})`)
    if (inits.length > 1) wrong.push(`${c.name}: ${inits.length} inits on one tree (${inits.join(', ')})`)
    if (!ON.has(c.state)) {
      const orphans = inTree
      if (orphans.length > 0) wrong.push(`${c.name} is ${c.state} but processes run in its tree: ${orphans.join(', ')}`)
      if (nspawns.length > 0) wrong.push(`${c.name} is ${c.state} but nspawn ${nspawns.join(', ')} boots its tree`)
    }
    if (c.state === 'running' && (c.pid === undefined || !nspawns.includes(c.pid))) wrong.push(`${c.name} is running as pid ${c.pid}, but the tree's nspawn is ${nspawns.join(', ') || 'none'}`)
  }
  const mounts = await mountsUnder(root)
  const seen = new Set<string>()
  for (const point of mounts) {
    if (!rootfses.has(point)) wrong.push(`stale mount ${point}`)
    else if (seen.has(point)) wrong.push(`${point} is mounted twice`)
    seen.add(point)
  }
  return wrong
}

/**
 * What the container NAME's journal and the activator's log said within WINDOW_MS of AT (ms since
 * the epoch), without the two lines every connection makes: for a lost connection, the why.
 */
export async function saidAround(root: string, name: string, at: number, windowMs = 1500): Promise<string[]> {
  const near = (ms: number) => Math.abs(ms - at) <= windowMs
  const out: string[] = []
  const journal = await ctr(root, ['logs', name, '-n', '5000', '--json'])
  for (const line of journal.stdout.split('\n')) {
    let entry: {__REALTIME_TIMESTAMP?: string; MESSAGE?: unknown; SYSLOG_IDENTIFIER?: string}
    try {
      entry = JSON.parse(line) as typeof entry
    } catch {
      continue
    }
    const ms = Number(entry.__REALTIME_TIMESTAMP) / 1000
    const message = typeof entry.MESSAGE === 'string' ? entry.MESSAGE : JSON.stringify(entry.MESSAGE)
    if (!near(ms) || /^(Started|Deactivated successfully|.*: Deactivated successfully)/.test(message) || /ctr-ssh@.*(Started|Deactivated)/.test(message)) continue
    out.push(`${name} ${new Date(ms).toISOString()} ${entry.SYSLOG_IDENTIFIER ?? ''}: ${message}`)
  }
  const log = await readFile(join(layout(root).activatorDir, 'activator.log'), 'utf8').catch(() => '')
  for (const line of log.split('\n')) {
    const ms = Date.parse(line.slice(0, 24))
    if (!Number.isNaN(ms) && near(ms)) out.push(`activator ${line}`)
  }
  return out
}
