/**
 * The socket holder: a process that keeps a copy of every held listening socket and does nothing
 * else, so that the ports stay bound and listening while no activator runs (it was killed, or is
 * being replaced). Connections meanwhile wait in the sockets' backlog; the next activator takes the
 * same sockets back from the holder with pidfd_getfd(2) and serves them.
 *
 * The holder is the host's `sleep infinity` with the sockets as its fds 3, 4, ...: about 1 MB, no
 * code of ctr's, nothing to crash. It cannot be given new fds, so when the held set changes a new
 * holder is started with the whole set, recorded in holder.json, and only then is the old one
 * stopped: at every moment some holder has every socket that was held a moment before. argv[0]
 * names the state root, so that a holder can be told apart from any other sleep, and leftovers of
 * an interrupted change can be found.
 */
import {spawn} from 'node:child_process'
import {join} from 'node:path'
import {readJson, writeJsonAtomic} from '../store/atomic.js'
import {layout} from '../store/paths.js'
import {signal} from '../sys/process.js'
import {closeFd, listeningPort} from '../sys/socket.js'
import {pidfdGetfd, pidfdOpenOf} from '../sys/pidfd.js'
import {processArgv, processGone, processStartTime, type ProcessEntry} from './proc.js'

export interface HeldSocketRef {
  /** Which socket: ADDRESS|PORT, ADDRESS '::' when unset. */
  key: string
  port: number
  fd: number
}

interface HolderFile {
  pid: number
  startTime: string
  /** The socket's key -> its fd number in the holder. */
  fds: Record<string, number>
}

export function socketKey(port: number, address?: string): string {
  return `${address ?? '::'}|${port}`
}

export function holderFile(root: string): string {
  return join(layout(root).activatorDir, 'holder.json')
}

/** argv[0] of ROOT's holder. */
export function holderName(root: string): string {
  return `ctr-socket-holder ${root}`
}

/** Every process that is a holder of ROOT (from one scan of /proc). */
export function holdersIn(processes: readonly ProcessEntry[], root: string): number[] {
  return processes.filter((p) => p.argv[0] === holderName(root)).map((p) => p.pid)
}

/** The holder holder.json names, if that very process (pid and start time) still runs. */
async function recordedHolder(root: string): Promise<HolderFile | undefined> {
  const file = await readJson<HolderFile>(holderFile(root)).catch(() => undefined)
  if (!file || !Number.isInteger(file.pid)) return undefined
  if (processStartTime(file.pid) !== file.startTime || processArgv(file.pid)?.[0] !== holderName(root)) return undefined
  return file
}

/**
 * Copies of the sockets ROOT's holder keeps, by key; each checked to be a listening socket on the
 * port its key says. Empty when there is no holder.
 */
export async function takeBackSockets(root: string): Promise<Map<string, number>> {
  const taken = new Map<string, number>()
  const holder = await recordedHolder(root)
  if (!holder) return taken
  let pidfd: number
  try {
    pidfd = pidfdOpenOf(holder.pid)
  } catch {
    return taken
  }
  try {
    for (const [key, target] of Object.entries(holder.fds)) {
      let fd: number
      try {
        fd = pidfdGetfd(pidfd, target)
      } catch {
        continue
      }
      if (listeningPort(fd) === Number(key.split('|')[1])) taken.set(key, fd)
      else closeFd(fd)
    }
  } finally {
    closeFd(pidfd)
  }
  return taken
}

/** SIGKILL, and back once it is gone: a port it alone held is free then. */
async function killHolder(pid: number): Promise<void> {
  signal(pid, 'SIGKILL')
  for (let i = 0; i < 200 && !processGone(pid); i++) await new Promise((r) => setTimeout(r, 5))
}

/** Keeps ROOT's holder in step with the sockets the activator holds. */
export class SocketHolder {
  private current?: HolderFile
  private queued = false
  /** stop() was called: no holder is made again. */
  private stopped = false
  private syncing: Promise<void> = Promise.resolve()

  constructor(
    private readonly root: string,
    /** The sockets held now. */
    private readonly sockets: () => HeldSocketRef[],
    private readonly log: (message: string) => void,
    /** Moves a new holder out of the activator's systemd unit, when it runs as one (systemd-unit.ts). */
    private readonly intoScope?: (pid: number) => Promise<void>,
  ) {}

  /** Adopts the holder a previous activator left (it is replaced at the next sync). */
  async adopt(): Promise<void> {
    this.current = await recordedHolder(this.root)
    if (this.current) await this.intoScope?.(this.current.pid)
  }

  /** A new holder for the current set soon; a burst of changes makes one. */
  sync(): void {
    if (this.queued || this.stopped) return
    this.queued = true
    this.syncing = this.syncing.then(async () => {
      await new Promise((r) => setTimeout(r, 10))
      this.queued = false
      await this.replace().catch((error) => this.log(`socket holder: ${error instanceof Error ? error.message : String(error)}`))
    })
  }

  /** Resolves when every sync asked for so far is done. */
  synced(): Promise<void> {
    return this.syncing
  }

  /** Stops the holder: the ports close once the activator closes its own copies too. */
  async stop(): Promise<void> {
    this.stopped = true
    await this.syncing
    if (this.current) await killHolder(this.current.pid)
    this.current = undefined
    await writeJsonAtomic(holderFile(this.root), {}).catch(() => {})
  }

  /** Stops holders of this root that holder.json does not name (left by an interrupted change). */
  stopStrays(processes: readonly ProcessEntry[]): number[] {
    const strays = holdersIn(processes, this.root).filter((pid) => pid !== this.current?.pid)
    for (const pid of strays) signal(pid, 'SIGKILL')
    return strays
  }

  private async replace(): Promise<void> {
    if (this.stopped) return
    const sockets = this.sockets()
    const previous = this.current
    if (sockets.length === 0) {
      // Nothing held: no holder (one is made again with the next held socket).
      this.current = undefined
      await writeJsonAtomic(holderFile(this.root), {})
      if (previous) await killHolder(previous.pid)
      return
    }
    const child = spawn('sleep', ['infinity'], {
      argv0: holderName(this.root),
      // fds 3.. of the holder are the sockets, in this order.
      stdio: ['ignore', 'ignore', 'ignore', ...sockets.map((s) => s.fd)],
      detached: true,
    })
    child.unref()
    const pid = await new Promise<number>((resolve, reject) => {
      child.once('spawn', () => resolve(child.pid!))
      child.once('error', reject)
    })
    const startTime = processStartTime(pid)
    if (startTime === undefined) throw new Error(`the new holder (pid ${pid}) died at once`)
    const record: HolderFile = {pid, startTime, fds: Object.fromEntries(sockets.map((s, i) => [s.key, i + 3]))}
    await writeJsonAtomic(holderFile(this.root), record)
    this.current = record
    // Out of the unit before the old holder goes: some holder outlives a `systemctl kill` at every moment.
    await this.intoScope?.(pid)
    if (previous && previous.pid !== pid) await killHolder(previous.pid)
  }
}
