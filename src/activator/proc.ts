/**
 * What the host's /proc says about a container: connections on its exposed ports (the accepted
 * connections of a passed socket live in the host's network namespace, whatever the container's
 * network mode, so /proc/net/tcp{,6} of the host sees them) and the memory of its process tree.
 */
import {openSync, readFileSync, readdirSync, readlinkSync, statSync, writeFileSync} from 'node:fs'

export const TCP_ESTABLISHED = 0x01
export const TCP_LISTEN = 0x0a

export interface TcpRow {
  localPort: number
  state: number
  /** For a LISTEN row: the length of the accept queue. */
  rxQueue: number
  /**
   * The socket's inode; 0 for a connection still in a listening socket's accept queue, which the
   * kernel lists as ESTABLISHED although no process has accepted it yet (no socket file exists).
   */
  inode: number
}

/** Rows of /proc/net/tcp or /proc/net/tcp6 text. */
export function parseProcNetTcp(text: string): TcpRow[] {
  const rows: TcpRow[] = []
  for (const line of text.split('\n').slice(1)) {
    const fields = line.trim().split(/\s+/)
    if (fields.length < 5) continue
    const local = fields[1]
    const port = parseInt(local.slice(local.lastIndexOf(':') + 1), 16)
    const rxQueue = parseInt(fields[4].split(':')[1] ?? '0', 16)
    rows.push({localPort: port, state: parseInt(fields[3], 16), rxQueue, inode: Number(fields[9] ?? 0) || 0})
  }
  return rows
}

export function readTcpRows(): TcpRow[] {
  const rows: TcpRow[] = []
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    try {
      rows.push(...parseProcNetTcp(readFileSync(file, 'utf8')))
    } catch {}
  }
  return rows
}

/**
 * Established connections per local port, for the ports asked about: accepted ones only. One still
 * queued is no session: it waits for a boot (held socket) or for the container's systemd, and
 * counting it kept a container going idle from powering off for as long as that client waited.
 */
export function establishedByPort(rows: readonly TcpRow[], ports: Iterable<number>): Map<number, number> {
  const counts = new Map<number, number>()
  for (const port of ports) counts.set(port, 0)
  for (const row of rows) {
    if (row.state !== TCP_ESTABLISHED || row.inode === 0) continue
    const n = counts.get(row.localPort)
    if (n !== undefined) counts.set(row.localPort, n + 1)
  }
  return counts
}

/** pid -> parent pid of every process, from /proc/PID/stat. */
export function processParents(): Map<number, number> {
  const parents = new Map<number, number>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8')
      // The command name (field 2) may hold spaces and parentheses: fields follow the last ")".
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      parents.set(Number(entry), Number(after[1]))
    } catch {}
  }
  return parents
}

/** PID and all its descendants. */
export function processTree(pid: number, parents: ReadonlyMap<number, number> = processParents()): number[] {
  const children = new Map<number, number[]>()
  for (const [child, parent] of parents) children.set(parent, [...(children.get(parent) ?? []), child])
  const out: number[] = []
  const todo = [pid]
  while (todo.length > 0) {
    const p = todo.pop()!
    out.push(p)
    todo.push(...(children.get(p) ?? []))
  }
  return out
}

/** Sum of the resident memory (VmRSS) of PIDS, in bytes. Shared pages are counted once per process. */
export function residentBytes(pids: readonly number[]): number {
  let kb = 0
  for (const pid of pids) {
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
      if (m) kb += Number(m[1])
    } catch {}
  }
  return kb * 1024
}

/**
 * The container's PID 1 as the host sees it: the descendant of nspawn that runs in another pid
 * namespace (nspawn forks it with CLONE_NEWPID). `nsenter -t` needs it.
 */
export function containerLeader(
  nspawnPid: number,
  parents: ReadonlyMap<number, number> = processParents(),
  pidNamespace: (pid: number) => string = (pid) => readlinkSync(`/proc/${pid}/ns/pid`),
): number | undefined {
  let own: string
  try {
    own = pidNamespace(nspawnPid)
  } catch {
    return undefined
  }
  // Nearest to nspawn first (breadth first), not lowest pid first: after the host's pids wrap
  // around, a process deep inside (a service of the container, or of a container nested in it)
  // can have a lower pid than its PID 1, and `ctr shell` would enter that process's namespaces
  // with its bounding set (seen in a nested systemd host: a shell with machined's capabilities).
  const children = new Map<number, number[]>()
  for (const [child, parent] of parents) children.set(parent, [...(children.get(parent) ?? []), child])
  let level = [nspawnPid]
  while (level.length > 0) {
    const next = level.flatMap((pid) => children.get(pid) ?? []).sort((a, b) => a - b)
    for (const pid of next) {
      try {
        if (pidNamespace(pid) !== own) return pid
      } catch {}
    }
    level = next
  }
  return undefined
}

/** The names (comm) of PID's children, from /proc/PID/task/PID/children; [] when it is gone. */
export function childNames(pid: number): string[] {
  let children: string
  try {
    children = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8')
  } catch {
    return []
  }
  return children
    .split(' ')
    .filter(Boolean)
    .map((child) => processName(Number(child)))
    .filter((name): name is string => name !== undefined)
}

/** /proc/PID/comm, or undefined when the process is gone. */
export function processName(pid: number): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/comm`, 'utf8').trim()
  } catch {
    return undefined
  }
}

/**
 * Whether PID would receive SIGNAL (a number) rather than drop it, as PID 1 of a namespace drops a
 * signal left at its default action: it has a handler (SigCgt), or blocks it to read it from a
 * signalfd (SigBlk), as systemd does.
 */
export function hearsSignal(pid: number, signal: number, statusText?: string): boolean {
  let text = statusText
  if (text === undefined) {
    try {
      text = readFileSync(`/proc/${pid}/status`, 'utf8')
    } catch {
      return false
    }
  }
  const bit = (field: string) => {
    const mask = new RegExp(`^${field}:\\s*([0-9a-f]+)$`, 'm').exec(text!)?.[1]
    return mask !== undefined && ((BigInt(`0x${mask}`) >> BigInt(signal - 1)) & 1n) === 1n
  }
  return bit('SigCgt') || bit('SigBlk')
}

/** The capability bounding set of PID (CapBnd in /proc/PID/status), or undefined when it is gone. */
export function capabilityBoundingSet(pid: number): bigint | undefined {
  try {
    const match = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return match ? BigInt(`0x${match[1]}`) : undefined
  } catch {
    return undefined
  }
}

/** Start time of PID (field 22 of /proc/PID/stat, ticks since boot): with the pid, it names one process for good. */
export function processStartTime(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    // The name (field 2) may hold spaces and parentheses: fields are counted after its last ")".
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]
  } catch {
    return undefined
  }
}

/** The arguments of PID (argv[0] as it set it), or undefined when it is gone or a zombie. */
export function processArgv(pid: number): string[] | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/cmdline`, 'utf8')
    return text ? text.replace(/\0$/, '').split('\0') : undefined
  } catch {
    return undefined
  }
}

export interface ProcessEntry {
  pid: number
  argv: string[]
  /**
   * The root directory of PID as device:inode. Not its path: readlink of /proc/PID/root gives the
   * path in the process's own mount namespace, "/" for a container's processes.
   */
  rootId?: string
}

/** device:inode of a directory, as ProcessEntry.rootId gives it; undefined when it is gone. */
export function directoryId(path: string): string | undefined {
  try {
    const info = statSync(path)
    return `${info.dev}:${info.ino}`
  } catch {
    return undefined
  }
}

/**
 * One scan of /proc: every live process with its arguments and root. What a starting activator
 * needs to know at once about every container (which trees still run, which inits lost their
 * nspawn, which socket holder is its own) comes from this one read, not one scan per container.
 */
export function scanProcesses(): ProcessEntry[] {
  const entries: ProcessEntry[] = []
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    const pid = Number(name)
    const argv = processArgv(pid)
    if (!argv) continue
    entries.push({pid, argv, rootId: directoryId(`/proc/${pid}/root`)})
  }
  return entries
}

/** The directory an nspawn command line boots (-D DIR, --directory DIR or --directory=DIR). */
export function nspawnTree(argv: readonly string[]): string | undefined {
  if (!argv[0]?.endsWith('systemd-nspawn')) return undefined
  const at = argv.findIndex((a) => a === '-D' || a === '--directory')
  const dir = at >= 0 ? argv[at + 1] : argv.find((a) => a.startsWith('--directory='))?.slice('--directory='.length)
  return dir?.replace(/\/+$/, '')
}

/** Whether PID is PID 1 of its own pid namespace (the last NSpid is 1): a container's init. */
export function isNamespaceInit(pid: number): boolean {
  try {
    const nspid = /^NSpid:\s*(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1].trim().split(/\s+/)
    return nspid !== undefined && nspid.length > 1 && nspid[nspid.length - 1] === '1'
  } catch {
    return false
  }
}

/** PID has exited: no such process, or a zombie waiting to be reaped (it holds nothing any more). */
export function processGone(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) === 'Z'
  } catch {
    return true
  }
}

/** A mounted cgroup hierarchy: where, and which (v1: its controllers or name=...; v2: 'unified'). */
export interface CgroupMount {
  mountPoint: string
  version: 1 | 2
  /** v1: the super options naming the hierarchy (e.g. ['memory'], ['name=systemd']). */
  options: string[]
}

/** The cgroup hierarchies this process sees (/proc/self/mountinfo). */
export function cgroupMounts(): CgroupMount[] {
  let text: string
  try {
    text = readFileSync('/proc/self/mountinfo', 'utf8')
  } catch {
    return []
  }
  const mounts: CgroupMount[] = []
  for (const line of text.split('\n')) {
    const [left, right] = line.split(' - ')
    if (!right) continue
    const [fsType, , superOptions = ''] = right.split(' ')
    const mountPoint = (left.split(' ')[4] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))
    if (fsType === 'cgroup2') mounts.push({mountPoint, version: 2, options: []})
    else if (fsType === 'cgroup') mounts.push({mountPoint, version: 1, options: superOptions.split(',').filter((o) => o !== 'rw' && o !== 'ro' && !o.startsWith('release_agent') && o !== 'clone_children' && o !== 'noprefix')})
  }
  return mounts
}

/** PID's cgroup in each hierarchy: '0::' for v2, the hierarchy's controllers (or name=...) for v1. */
export function processCgroups(pid: number | 'self' = 'self'): Map<string, string> {
  const out = new Map<string, string>()
  let text: string
  try {
    text = readFileSync(`/proc/${pid}/cgroup`, 'utf8')
  } catch {
    return out
  }
  for (const line of text.split('\n')) {
    const m = /^\d+:([^:]*):(.*)$/.exec(line)
    if (m) out.set(m[1], m[2])
  }
  return out
}

/** PID's user namespace, as /proc names it (user:[INODE]); undefined when it is gone. */
export function userNamespaceOf(pid: number | 'self'): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/user`)
  } catch {
    return undefined
  }
}

/**
 * Maps PID's (new, still unmapped) user namespace: IDs 0..COUNT-1 inside are BASE.. outside, for
 * users and groups; then returns an fd of that namespace (for an idmapped mount).
 */
export function mapUserNamespace(pid: number, base: number, count: number): number {
  writeFileSync(`/proc/${pid}/uid_map`, `0 ${base} ${count}\n`)
  writeFileSync(`/proc/${pid}/gid_map`, `0 ${base} ${count}\n`)
  return openSync(`/proc/${pid}/ns/user`, 'r')
}
