/**
 * Watches held listening sockets the way systemd PID 1 does: level-triggered, never accepting.
 * One async poll(2) at a time covers every watched fd plus an eventfd that wakes it when the set
 * changes (each pending async koffi call holds one of libuv's four pool threads, so one call per
 * socket would starve the pool after four containers). A readable fd's group is unwatched before
 * its callback runs, so the kernel keeps the connection queued for the container to accept.
 */
import {setTimeout as sleep} from 'node:timers/promises'
import {debug} from '../log.js'
import {POLLERR, POLLHUP, POLLIN, POLLNVAL, drainEventFd, makeEventFd, pollAsync, pollSet, revents, signalEventFd} from '../sys/socket.js'

/** How long a change of the watched set may wait to be picked up (a re-watch after an exit). */
const REBUILD_DELAY_MS = 5

export type OnReadable = (fd: number) => void

interface Group {
  fds: readonly number[]
  onReadable: OnReadable
}

export class SocketWatcher {
  private readonly groups = new Map<string, Group>()
  private readonly wakeFd = makeEventFd()
  private running = false
  private closed = false
  private loopDone: Promise<void> = Promise.resolve()
  private settledWaiters: Array<() => void> = []
  /** The fds of the poll in flight. */
  private inFlight = new Set<number>()

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
    signalEventFd(this.wakeFd)
    await this.loopDone
  }

  private changed(): void {
    if (this.running) signalEventFd(this.wakeFd)
    else this.loopDone = this.loop()
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
        const pending = pollAsync(set, -1)
        // The previous poll has returned and this one covers only the current set.
        for (const resolve of this.settledWaiters.splice(0)) resolve()
        const n = await pending
        if (n < 0) {
          // EINTR and the like: poll again with the current set.
          continue
        }
        if (revents(set, 0) & POLLIN) {
          drainEventFd(this.wakeFd)
          // Woken because the set changed: let a burst of changes (a thousand `ctr start`s) settle
          // before building the next set, instead of one O(n) rebuild per change.
          if (n === 1) await sleep(REBUILD_DELAY_MS)
        }
        const fired = new Map<string, number>()
        for (let i = 1; i < fds.length; i++) {
          const ev = revents(set, i)
          if (ev & POLLNVAL) {
            // Not open: a bug elsewhere. Dropping the group keeps poll from spinning on it.
            debug(`activator: fd ${fds[i]} of ${keys[i - 1]} is not open; no longer watched`)
            this.groups.delete(keys[i - 1])
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
            debug(`activator: ${key}: ${String(error)}`)
          }
        }
      }
    } finally {
      this.running = false
      this.inFlight = new Set()
      for (const resolve of this.settledWaiters.splice(0)) resolve()
    }
    // A watch() that raced with the loop's end starts a new loop.
    if (!this.closed && this.groups.size > 0) this.loopDone = this.loop()
  }
}
