/**
 * Watches held listening sockets the way systemd PID 1 does: level-triggered, never accepting.
 * One async poll(2) at a time covers every watched fd plus an eventfd that wakes it when the set
 * changes (each pending async koffi call holds one of libuv's four pool threads, so one call per
 * socket would starve the pool after four containers). A readable fd's group is unwatched before
 * its callback runs, so the kernel keeps the connection queued for the container to accept.
 *
 * A failed poll never makes the loop spin nor end the activator: EINTR is retried, an fd that is
 * not open is dropped with its group (logged), anything else (EINVAL: more fds than RLIMIT_NOFILE,
 * ENOMEM) is logged and retried after a growing pause; a rejected call is caught and treated alike.
 */
import {setTimeout as sleep} from 'node:timers/promises'
import {errno, fn} from '../sys/libc.js'
import {POLLERR, POLLHUP, POLLIN, POLLNVAL, drainEventFd, makeEventFd, pollAsync, pollSet, revents, signalEventFd} from '../sys/socket.js'

/** How long a change of the watched set may wait to be picked up (a re-watch after an exit). */
const REBUILD_DELAY_MS = 5
/** Pauses after a failed poll: the first, doubled at each failure in a row, up to the last. */
export const POLL_BACKOFF_FIRST_MS = 10
export const POLL_BACKOFF_MAX_MS = 1000
const EINTR = 4
const ERRNO_NAMES: Record<number, string> = {4: 'EINTR', 9: 'EBADF', 12: 'ENOMEM', 14: 'EFAULT', 22: 'EINVAL'}

export type OnReadable = (fd: number) => void

interface Group {
  fds: readonly number[]
  onReadable: OnReadable
}

export interface WatcherOptions {
  /** Where problems go (the activator's log); stderr with a timestamp by default. */
  log?: (message: string) => void
  /** poll(2) on a pool thread; replaced only by tests of a rejected call, which cannot be caused for real. */
  poll?: (set: Buffer, timeoutMs: number) => Promise<number>
}

/** The next pause after a failed poll, given the last one (none yet: the first). */
export function nextBackoffMs(lastMs: number | undefined): number {
  return lastMs === undefined ? POLL_BACKOFF_FIRST_MS : Math.min(POLL_BACKOFF_MAX_MS, lastMs * 2)
}

export class SocketWatcher {
  private readonly groups = new Map<string, Group>()
  private wakeFd = makeEventFd()
  private readonly log: (message: string) => void
  private readonly poll: (set: Buffer, timeoutMs: number) => Promise<number>
  /** The pause after the last failed poll; undefined while polls succeed. */
  private backoffMs?: number
  /** Ends the pause after a failed poll early: the set changed (it may poll fine now) or close(). */
  private pause?: AbortController
  private running = false
  private closed = false
  private loopDone: Promise<void> = Promise.resolve()
  private settledWaiters: Array<() => void> = []
  /** The fds of the poll in flight. */
  private inFlight = new Set<number>()

  constructor(options: WatcherOptions = {}) {
    this.log = options.log ?? ((message) => process.stderr.write(`${new Date().toISOString()} ${message}\n`))
    this.poll = options.poll ?? pollAsync
  }

  /** Watch FDS under KEY; when one is readable, the whole group is unwatched and ON_READABLE runs. */
  watch(key: string, fds: readonly number[], onReadable: OnReadable): void {
    if (fds.length === 0) return
    this.groups.set(key, {fds, onReadable})
    this.changed()
  }

  unwatch(key: string): void {
    if (this.groups.delete(key)) this.changed()
  }

  /**
   * Resolves once the poll in flight no longer covers what was unwatched before: a pending poll
   * holds a reference to every file it waits on (the kernel's poll table), so a socket closed
   * before then stays bound, and its port busy, until that poll returns.
   */
  settled(fds: readonly number[]): Promise<void> {
    if (!this.running || !fds.some((fd) => this.inFlight.has(fd))) return Promise.resolve()
    // Make the poll return and rebuild without them, even when nothing else changes.
    signalEventFd(this.wakeFd)
    return new Promise((resolve) => this.settledWaiters.push(resolve))
  }

  isWatching(key: string): boolean {
    return this.groups.has(key)
  }

  async close(): Promise<void> {
    this.closed = true
    this.groups.clear()
    this.pause?.abort()
    signalEventFd(this.wakeFd)
    await this.loopDone
  }

  private changed(): void {
    this.pause?.abort()
    if (this.running) signalEventFd(this.wakeFd)
    else this.startLoop()
  }

  private startLoop(): void {
    // The loop catches its own failures; this catch only keeps a bug in it from becoming an
    // unhandled rejection, which would end the activator and drop every held port.
    this.loopDone = this.loop().catch((error) => this.log(`activator: socket watcher stopped: ${String(error)}`))
  }

  private async loop(): Promise<void> {
    this.running = true
    try {
      while (!this.closed && this.groups.size > 0) {
        const keys: string[] = []
        const fds: number[] = [this.wakeFd]
        for (const [key, group] of this.groups) {
          for (const fd of group.fds) {
            keys.push(key)
            fds.push(fd)
          }
        }
        const set = pollSet(fds)
        this.inFlight = new Set(fds)
        const pending = this.poll(set, -1)
        // The previous poll has returned and this one covers only the current set.
        for (const resolve of this.settledWaiters.splice(0)) resolve()
        let n: number
        try {
          n = await pending
        } catch (error) {
          n = -1
          this.log(`activator: poll of ${fds.length} fds was rejected: ${error instanceof Error ? error.message : String(error)}`)
        }
        if (n < 0) {
          this.inFlight = new Set()
          for (const resolve of this.settledWaiters.splice(0)) resolve()
          await this.recover(fds, keys)
          continue
        }
        this.backoffMs = undefined
        if (revents(set, 0) & POLLIN) {
          drainEventFd(this.wakeFd)
          // Woken because the set changed: let a burst of changes (a thousand `ctr start`s) settle
          // before building the next set, instead of one O(n) rebuild per change.
          if (n === 1) await sleep(REBUILD_DELAY_MS)
        }
        const fired = new Map<string, number>()
        if (revents(set, 0) & POLLNVAL) this.renewWakeFd()
        for (let i = 1; i < fds.length; i++) {
          const ev = revents(set, i)
          if (ev & POLLNVAL) {
            // Not open: a bug elsewhere. Dropping the group keeps poll from returning at once forever.
            this.dropGroup(keys[i - 1], fds[i])
            continue
          }
          if (ev & (POLLIN | POLLERR | POLLHUP) && !fired.has(keys[i - 1])) fired.set(keys[i - 1], fds[i])
        }
        for (const [key, fd] of fired) {
          const group = this.groups.get(key)
          // The set may have changed while poll ran (unwatched, or watched anew with other fds).
          if (!group || !group.fds.includes(fd)) continue
          this.groups.delete(key)
          try {
            group.onReadable(fd)
          } catch (error) {
            this.log(`activator: ${key}: ${String(error)}`)
          }
        }
      }
    } finally {
      this.running = false
      this.inFlight = new Set()
      for (const resolve of this.settledWaiters.splice(0)) resolve()
    }
    // A watch() that raced with the loop's end starts a new loop.
    if (!this.closed && this.groups.size > 0) this.startLoop()
  }

  /**
   * After a failed poll. Its errno belongs to the pool thread that ran it, so the same set is
   * polled once more here, without waiting, to learn it: EINTR (or no failure this time) is
   * retried at once, an fd that is not open is dropped with its group, anything else waits a pause
   * that grows with each failure in a row. Never an immediate retry of the same failure.
   */
  private async recover(fds: readonly number[], keys: readonly string[]): Promise<void> {
    const probe = pollSet(fds)
    const result = pollNow(probe)
    const code = result < 0 ? errno() : 0
    if ((result >= 0 || code === EINTR) && this.backoffMs === undefined) {
      // Interrupted: retry at once, but only once before pausing, so even a storm of signals cannot spin.
      this.backoffMs = 0
      return
    }
    const closed = fds.map((fd, i) => ({fd, i})).filter(({fd}) => !isOpen(fd))
    for (const {fd, i} of closed) {
      if (i === 0) this.renewWakeFd()
      else this.dropGroup(keys[i - 1], fd)
    }
    if (closed.length > 0) return
    this.backoffMs = nextBackoffMs(this.backoffMs || undefined)
    const why = result < 0 ? `errno ${code}${ERRNO_NAMES[code] ? ` (${ERRNO_NAMES[code]})` : ''}` : 'a rejected call'
    const limit = code === 22 ? ': more fds than the open-file limit (RLIMIT_NOFILE) allows' : ''
    this.log(`activator: poll of ${fds.length} fds failed: ${why}${limit}; trying again in ${this.backoffMs} ms`)
    this.pause = new AbortController()
    await sleep(this.backoffMs, undefined, {signal: this.pause.signal}).catch(() => {})
    this.pause = undefined
  }

  /** FD (of group KEY) is not open: nothing it was watched for can happen; stop watching it. */
  private dropGroup(key: string, fd: number): void {
    // Watched anew meanwhile with other fds (a refresh): that group is not the one to blame.
    if (!this.groups.get(key)?.fds.includes(fd)) return
    this.log(`activator: fd ${fd} of ${key} is not open; ${key} is no longer watched`)
    this.groups.delete(key)
  }

  private renewWakeFd(): void {
    this.log(`activator: the watcher's eventfd ${this.wakeFd} is not open; making a new one`)
    this.wakeFd = makeEventFd()
  }
}

const F_GETFD = 1

/** poll(2) on this thread without waiting, so that errno() reads its failure. */
function pollNow(set: Buffer): number {
  return fn('int poll(void *fds, unsigned long nfds, int timeout)')(set, set.length / 8, 0) as number
}

/** Whether FD is an open file descriptor of this process (fcntl F_GETFD fails with EBADF if not). */
function isOpen(fd: number): boolean {
  return (fn('int fcntl(int fd, int cmd, ...)')(fd, F_GETFD) as number) >= 0
}
