/**
 * The idle rules, on running containers without an established connection on any exposed port
 * and without an open `ctr shell` (sessions.ts):
 * - quiet for quietMs: the profile's sleepWhenQuiet units (journald, in lean) are stopped; their
 *   sockets start them again when needed;
 * - idle for idleTimeoutSec: power off, ports stay held. Before SIGTERM the container's own socket
 *   units are stopped, so a connection that arrives during shutdown waits in the host's socket for
 *   the next boot instead of being accepted by a container that is going away.
 */
import {getProfile, type QuietUnit} from '../rootfs/profiles.js'
import type {HeldContainer} from './held-container.js'
import {stopSocketUnits, trySystemctlInside} from './inside.js'
import {drainConnections, openConnections} from './drain.js'
import {childNames, readTcpRows} from './proc.js'
import {liveSessions} from './sessions.js'

/** How often the idle rule reads the connections when not told otherwise. */
export const DEFAULT_IDLE_CHECK_MS = 1000
/**
 * A running container this long without a connection is quiet: its profile's sleepWhenQuiet units
 * stop. Not shorter: the first connection after that pays for journald starting again (banner 55
 * instead of 34 ms, measured), which sessions a few seconds apart should not pay each time.
 */
export const DEFAULT_QUIET_MS = 15_000
/**
 * How long an idle poweroff waits for sessions accepted just as the socket units stopped (a client
 * that came in the instant it went idle). Bounded: for a service that accepts by itself, a steady
 * trickle of connections would keep it waiting for good, with its socket units already stopped.
 */
export const DRAIN_LIMIT_MS = 120_000
/** How many idle checks in a row may fail to stop a container's socket units before it is powered off all the same. */
const SOCKET_STOP_TRIES = 5

export interface IdlePolicyOptions {
  /** The state root, where open shells are recorded (sessions.ts). */
  root: string
  /** The containers held now. */
  held: () => Iterable<HeldContainer>
  /** Runs an operation on one container after the others queued for it. */
  serial: <T>(name: string, body: () => Promise<T>) => Promise<T>
  log: (message: string) => void
  idleCheckMs?: number
  quietMs?: number
  /** Replaces DRAIN_LIMIT_MS (tests). */
  drainLimitMs?: number
}

export class IdlePolicy {
  private timer?: NodeJS.Timeout
  private readonly quietUnits = new Map<string, QuietUnit[]>()
  /** Idle poweroffs put off because the container's socket units would not stop, by container. */
  private readonly socketStopFailures = new Map<string, number>()

  constructor(private readonly options: IdlePolicyOptions) {}

  /**
   * Looks at connections once a second by default, so a container powers off within about a second
   * of its timeout. Only running containers with a timeout or units to stop when quiet are looked
   * at, so a host of sleeping containers pays nothing for it.
   */
  start(): void {
    this.timer = setInterval(() => void this.apply(), this.checkMs())
    this.timer.unref()
  }

  stop(): void {
    clearInterval(this.timer)
  }

  private checkMs(): number {
    return this.options.idleCheckMs ?? DEFAULT_IDLE_CHECK_MS
  }

  private async apply(): Promise<void> {
    const running = [...this.options.held()].filter((c) => c.state === 'running' && (c.record.idleTimeoutSec > 0 || this.sleepUnits(c).length > 0))
    if (running.length === 0) return
    const rows = readTcpRows()
    const now = Date.now()
    for (const c of running) {
      const connections = openConnections(c.record.ports.map((e) => e.port), rows)
      // An open `ctr shell` is activity as a connection is (read only when no connection is open).
      if (connections > 0 || this.shells(c) > 0) {
        c.idleSince = undefined
        continue
      }
      c.idleSince ??= now
      // Checks are a period apart, give or take timer jitter: half a period of slack keeps a check
      // that lands a hair early from postponing the poweroff by a whole period.
      const quietMs = now - c.idleSince + this.checkMs() / 2
      this.sleepIfQuiet(c, quietMs, now)
      if (c.record.idleTimeoutSec === 0 || quietMs < c.record.idleTimeoutSec * 1000) continue
      void this.options
        .serial(c.name, async () => {
          if (c.state !== 'running') return
          // A shell opened since the check (its wake waits behind this in the queue): stay up.
          if (this.shells(c) > 0) return
          this.options.log(`${c.name}: idle for ${c.record.idleTimeoutSec} s`)
          if (!(await stopSocketUnits(c.name, c.leaderPid(), this.options.log))) {
            // Powered off with its socket units up, it would accept connections while shutting
            // down and close them unserved: stay up, and try again at the next check (a few times).
            const failures = (this.socketStopFailures.get(c.name) ?? 0) + 1
            this.socketStopFailures.set(c.name, failures)
            if (failures < SOCKET_STOP_TRIES) return
            this.options.log(`${c.name}: its socket units would not stop ${failures} times in a row; powering off anyway`)
          }
          this.socketStopFailures.delete(c.name)
          // A connection accepted just before the socket units stopped is a session that has only
          // begun: let it finish. New connections wait in the host's socket for the next boot.
          await this.waitNoConnections(c)
          await c.stop({keepPorts: true, reason: 'idle'})
        })
        .catch((error) => this.options.log(`${c.name}: idle poweroff failed: ${String(error)}`))
    }
  }

  /**
   * Stops the profile's sleepWhenQuiet units that run, once C has been quiet for quietMs. Checked
   * again a quiet period after each stop: a short session between two checks may have woken them
   * (journald, by its first log line) without the rule seeing the connection.
   */
  private sleepIfQuiet(c: HeldContainer, quietMs: number, now: number): void {
    const quiet = this.options.quietMs ?? DEFAULT_QUIET_MS
    const sleepers = this.sleepUnits(c)
    if (sleepers.length === 0 || quietMs < quiet || (c.quietStopAt !== undefined && now - c.quietStopAt < quiet)) return
    const leader = c.leaderPid()
    const running = leader === undefined ? [] : childNames(leader)
    const awake = sleepers.filter((s) => running.includes(s.process)).map((s) => s.unit)
    if (awake.length === 0) return
    c.quietStopAt = now
    void this.options.serial(c.name, async () => {
      if (c.state !== 'running') return
      if (await trySystemctlInside(c.name, c.leaderPid(), ['stop', '--no-block', ...awake], 'stop its quiet units', this.options.log)) {
        this.options.log(`${c.name}: quiet, stopped ${awake.join(', ')} (socket-activated again when needed)`)
      }
    })
  }

  /** Open `ctr shell` sessions of C; 0 (and logged) when they cannot be read. */
  private shells(c: HeldContainer): number {
    try {
      return liveSessions(this.options.root, c.name)
    } catch (error) {
      this.options.log(`${c.name}: could not read its shell sessions: ${error instanceof Error ? error.message : String(error)}`)
      return 0
    }
  }

  /** The profile's sleepWhenQuiet units (profiles are read once each). */
  private sleepUnits(c: HeldContainer): QuietUnit[] {
    let units = this.quietUnits.get(c.record.profile)
    if (!units) {
      try {
        units = getProfile(c.record.profile).sleepWhenQuiet ?? []
      } catch {
        units = []
      }
      this.quietUnits.set(c.record.profile, units)
    }
    return units
  }

  /**
   * Waits for the sessions accepted as the socket units stopped to end: at most DRAIN_LIMIT_MS,
   * and not at all once a stop or rm is queued behind it (they must not wait on a client). For a
   * service that accepts itself (lighttpd, MariaDB), stopping its socket unit does not stop it
   * accepting: connections it takes meanwhile are sessions too, until it is powered off.
   */
  private async waitNoConnections(c: HeldContainer): Promise<void> {
    const limitMs = this.options.drainLimitMs ?? DRAIN_LIMIT_MS
    const drained = await drainConnections(c, {
      limitMs,
      pollMs: 250,
      giveUp: () => c.stopWanted,
      waiting: (open) => this.options.log(`${c.name}: ${open} connection(s) came in as it went idle; powering off when they end`),
    })
    if (drained.how === 'limit') this.options.log(`${c.name}: ${drained.open} connection(s) still open ${Math.round(limitMs / 1000)} s after it went idle; powering off`)
  }
}
