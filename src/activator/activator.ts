/**
 * The activator: every held container of one state root, what is held persisted so that a
 * restarted activator holds the same ports again, the idle rule, and the operations the control
 * API offers. It never prints; it logs through the `log` it is given.
 */
import {readdir} from 'node:fs/promises'
import {join} from 'node:path'
import {CtrError} from '../errors.js'
import {hostHasSystemd} from '../nspawn/argv.js'
import {getProfile, type QuietUnit} from '../rootfs/profiles.js'
import {storeStatus} from '../status/collect.js'
import type {ContainerHistory, ContainerStatus, StatusReport} from '../status/types.js'
import {getContainer, readContainer, type ContainerRecord} from '../store/containers.js'
import {readJson, writeJsonAtomic} from '../store/atomic.js'
import {layout} from '../store/paths.js'
import {HeldContainer, type HeldContext} from './held-container.js'
import {powerOffOrphans} from './orphans.js'
import {childNames, establishedByPort, processParents, readTcpRows} from './proc.js'
import {prepareTree} from './tree.js'
import {SocketWatcher} from './watcher.js'

/** How often the idle rule reads the connections when not told otherwise. */
export const DEFAULT_IDLE_CHECK_MS = 1000
/**
 * A running container this long without a connection is quiet: its profile's sleepWhenQuiet units
 * stop. Not shorter: the first connection after that pays for journald starting again (banner 55
 * instead of 34 ms, measured), which sessions a few seconds apart should not pay each time.
 */
export const DEFAULT_QUIET_MS = 15_000

export interface ActivatorOptions {
  root: string
  log?: (message: string) => void
  /** SIGTERM -> SIGKILL grace for a container's poweroff. */
  stopTimeoutMs?: number
  /** How often the idle rule looks at connections. */
  idleCheckMs?: number
  /** No connection for this long: the profile's sleepWhenQuiet units are stopped. */
  quietMs?: number
}

interface HeldFile {
  containers: string[]
  /** Wakes and the last stop of every container this root's activators have held. */
  history?: Record<string, ContainerHistory>
}

export function heldFile(root: string): string {
  return join(layout(root).activatorDir, 'held.json')
}

/** Re-exported for callers that found it here first; src/status/collect.ts owns it. */
export {storeStatus}

export class Activator {
  readonly root: string
  private readonly held = new Map<string, HeldContainer>()
  /** Outlives a release, so `ctr ls` still says how often a stopped container woke and why it stopped. */
  private readonly histories = new Map<string, ContainerHistory>()
  private readonly watcher = new SocketWatcher()
  private readonly ctx: HeldContext
  private readonly log: (message: string) => void
  private idleTimer?: NodeJS.Timeout
  private persisting: Promise<void> = Promise.resolve()
  private persistQueued = false
  private readonly queues = new Map<string, Promise<unknown>>()
  private readonly quietUnits = new Map<string, QuietUnit[]>()
  private heldAtShutdown?: string[]

  constructor(private readonly options: ActivatorOptions) {
    this.root = options.root
    this.log = options.log ?? (() => {})
    this.ctx = {
      root: this.root,
      watcher: this.watcher,
      hostHasSystemd: hostHasSystemd(),
      stopTimeoutMs: options.stopTimeoutMs ?? 30_000,
      log: this.log,
      prepareTree: (record) => prepareTree(this.root, record),
      onReleased: (name) => {
        this.held.delete(name)
        this.persist()
      },
      onSettled: () => this.persist(),
    }
  }

  /** Holds again what the last activator held. Containers that cannot be held are logged. */
  async restore(): Promise<string[]> {
    const file = await readJson<HeldFile>(heldFile(this.root))
    for (const [name, history] of Object.entries(file?.history ?? {})) this.histories.set(name, history)
    const restored: string[] = []
    for (const name of file?.containers ?? []) {
      try {
        const orphans = await powerOffOrphans(this.root, name, this.ctx.stopTimeoutMs)
        if (orphans.length > 0) this.log(`${name}: powered off nspawn ${orphans.join(', ')}, left running by an earlier activator`)
        await this.hold(name, {now: false, persist: false})
        restored.push(name)
      } catch (error) {
        this.log(`${name}: not held again: ${error instanceof Error ? error.message : String(error)}`)
      }
    }
    this.persist()
    const every = this.idleCheckMs()
    this.idleTimer = setInterval(() => void this.applyIdleRule(), every)
    this.idleTimer.unref()
    return restored
  }

  /** `ctr start`: hold the container's ports; boot it at once with NOW. */
  async start(name: string, options: {now: boolean}): Promise<ContainerStatus> {
    return this.serial(name, async () => {
      await this.hold(name, {now: options.now, persist: true})
      return this.statusOf(name)
    })
  }

  /** `ctr stop`: power off; release the ports unless KEEP_PORTS. */
  async stop(name: string, options: {keepPorts: boolean}): Promise<ContainerStatus> {
    return this.serial(name, async () => {
      const record = await getContainer(this.root, name)
      const c = this.held.get(name)
      if (!c) throw new CtrError('NOT_RUNNING', `${name} is not started`, {hints: [`start it: ctr start ${name}`]})
      if (c.state === 'listening' && options.keepPorts) {
        throw new CtrError('NOT_RUNNING', `${name} is not running (its ports are held already)`)
      }
      await c.stop({keepPorts: options.keepPorts, reason: 'user'})
      return this.held.get(name)?.status(readTcpRows(), undefined) ?? this.notHeldStatus(record)
    })
  }

  /** For `ctr rm`: power off and release if held; nothing if not. */
  async forget(name: string): Promise<void> {
    return this.serial(name, async () => {
      await this.held.get(name)?.stop({keepPorts: false, reason: 'user'})
      this.histories.delete(name)
      this.persist()
    })
  }

  /** The record changed (expose/unexpose): hold the new set of ports if the container is held. */
  async refresh(name: string): Promise<ContainerStatus> {
    return this.serial(name, async () => {
      const record = await getContainer(this.root, name)
      this.held.get(name)?.refresh(record)
      return this.statusOf(name)
    })
  }

  /** Boots the container if it sleeps (holding it first if needed); resolves when its PID 1 runs. */
  async wake(name: string): Promise<{pid: number; leader: number}> {
    return this.serial(name, async () => {
      let c = this.held.get(name)
      if (!c) c = await this.hold(name, {now: true, persist: true})
      else if (c.state === 'listening') await this.bootNow(c)
      else await c.waitRunning(60_000)
      return {pid: c.nspawnPid!, leader: c.leaderPid()!}
    })
  }

  status(): Promise<StatusReport> {
    return this.collect()
  }

  /** Powers off running containers (their ports stay recorded as held) and stops watching. */
  async shutdown(): Promise<void> {
    // What is held now stays recorded as held, though every container is released below.
    this.heldAtShutdown = [...this.held.keys()].sort()
    clearInterval(this.idleTimer)
    await Promise.all([...this.held.values()].map((c) => c.stop({keepPorts: false, reason: 'user'}).catch(() => {})))
    this.persist()
    await this.persisting
    await this.watcher.close()
  }

  private async collect(): Promise<StatusReport> {
    const records = await this.readRecords()
    const rows = readTcpRows()
    const anyUp = [...this.held.values()].some((c) => c.state !== 'listening')
    const parents = anyUp ? processParents() : undefined
    return {
      live: true,
      containers: records.map((r) => this.held.get(r.name)?.status(rows, parents) ?? this.notHeldStatus(r)),
    }
  }

  /**
   * Every container record, read one after another: with a thousand containers, a thousand reads at
   * once (listContainers) would grow the heap and the RSS of this long-lived process for good.
   */
  private async readRecords(): Promise<ContainerRecord[]> {
    let names: string[]
    try {
      names = await readdir(layout(this.root).containers)
    } catch {
      return []
    }
    const records: ContainerRecord[] = []
    for (const name of names.filter((n) => !n.startsWith('.')).sort()) {
      const record = await readContainer(this.root, name).catch(() => undefined)
      if (record) records.push(record)
    }
    return records
  }

  private async statusOf(name: string): Promise<ContainerStatus> {
    const c = this.held.get(name)
    // A sleeping container has no connections and no processes: no need to read /proc for it.
    if (c?.state === 'listening') return c.status([], undefined)
    if (c) return c.status(readTcpRows(), processParents())
    return this.notHeldStatus(await getContainer(this.root, name))
  }

  /** A container no activator holds: stopped, with what this root's activators remember of it. */
  private notHeldStatus(record: ContainerRecord): ContainerStatus {
    return {...storeStatus(record), ...this.histories.get(record.name)}
  }

  private historyOf(name: string): ContainerHistory {
    let history = this.histories.get(name)
    if (!history) this.histories.set(name, (history = {wakes: 0}))
    return history
  }

  private async hold(name: string, options: {now: boolean; persist: boolean}): Promise<HeldContainer> {
    const record = await getContainer(this.root, name)
    const existing = this.held.get(name)
    if (existing) {
      if (existing.state !== 'listening') {
        throw new CtrError('RUNNING', `${name} is already running`, {hints: [`power it off first: ctr stop ${name}`]})
      }
      if (options.now) await this.bootNow(existing)
      return existing
    }
    if (record.ports.length === 0 && !options.now) {
      throw new CtrError('INVALID_ARGUMENT', `${name} exposes no port, so no connection could wake it`, {
        hints: [`expose one: ctr expose 2222 ssh -c ${name}`, `or boot it now: ctr start --now ${name}`],
      })
    }
    const c = new HeldContainer(this.ctx, record, this.historyOf(name))
    this.held.set(name, c)
    if (options.persist) this.persist()
    c.listen()
    this.log(`${name}: holding ${record.ports.map((e) => e.port).join(', ') || 'no ports'}`)
    if (options.now) await this.bootNow(c)
    return c
  }

  private async bootNow(c: HeldContainer): Promise<void> {
    void c.boot()
    await c.waitRunning(60_000)
  }

  /** Writes held.json soon; a burst of changes makes one write (the set as it is then). */
  private persist(): void {
    if (this.persistQueued) return
    this.persistQueued = true
    this.persisting = this.persisting.then(async () => {
      await new Promise((r) => setTimeout(r, 20))
      this.persistQueued = false
      const names = this.heldAtShutdown ?? [...this.held.keys()].sort()
      // Only containers with something to remember: a thousand held, never woken ones would make
      // every write (one per `ctr start`) a thousand entries longer, and the heap several MB larger.
      const history = Object.fromEntries([...this.histories].filter(([, h]) => h.wakes > 0 || h.lastStopReason).sort(([a], [b]) => a.localeCompare(b)))
      await writeJsonAtomic(heldFile(this.root), {containers: names, history} satisfies HeldFile).catch((error) => this.log(`cannot write held.json: ${String(error)}`))
    })
  }

  /** Runs operations on one container one after another. */
  private serial<T>(name: string, body: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(name) ?? Promise.resolve()
    const mine = previous.catch(() => {}).then(body)
    this.queues.set(name, mine)
    void mine.finally(() => this.queues.get(name) === mine && this.queues.delete(name)).catch(() => {})
    return mine
  }

  /**
   * How often the idle rule reads /proc/net/tcp{,6}: once a second by default, so a container
   * powers off within about a second of its timeout. Only running containers with a timeout or
   * units to stop when quiet are looked at, so a host of sleeping containers pays nothing for it.
   */
  private idleCheckMs(): number {
    return this.options.idleCheckMs ?? DEFAULT_IDLE_CHECK_MS
  }

  /**
   * Idle rules, on running containers without an established connection on any exposed port:
   * - quiet for quietMs: the profile's sleepWhenQuiet units (journald, in lean) are stopped; their
   *   sockets start them again when needed;
   * - idle for idleTimeoutSec: power off, ports stay held. Before SIGTERM the container's own socket
   *   units are stopped, so a connection that arrives during shutdown waits in the host's socket for
   *   the next boot instead of being accepted by a container that is going away.
   */
  private async applyIdleRule(): Promise<void> {
    const running = [...this.held.values()].filter((c) => c.state === 'running' && (c.record.idleTimeoutSec > 0 || this.sleepUnits(c).length > 0))
    if (running.length === 0) return
    const rows = readTcpRows()
    const now = Date.now()
    for (const c of running) {
      const counts = establishedByPort(
        rows,
        c.record.ports.map((e) => e.port),
      )
      const total = [...counts.values()].reduce((a, b) => a + b, 0)
      if (total > 0) {
        c.idleSince = undefined
        continue
      }
      c.idleSince ??= now
      // Checks are a period apart, give or take timer jitter: half a period of slack keeps a check
      // that lands a hair early from postponing the poweroff by a whole period.
      const quietMs = now - c.idleSince + this.idleCheckMs() / 2
      this.sleepIfQuiet(c, quietMs, now)
      if (c.record.idleTimeoutSec === 0 || quietMs < c.record.idleTimeoutSec * 1000) continue
      void this.serial(c.name, async () => {
        if (c.state !== 'running') return
        this.log(`${c.name}: idle for ${c.record.idleTimeoutSec} s`)
        await this.systemctlInside(c, ['stop', 'ctr-*.socket'], 'stop its socket units first')
        // A connection accepted just before the socket units stopped is a session that has only
        // begun: let it finish. New connections wait in the host's socket for the next boot.
        await this.waitNoConnections(c)
        await c.stop({keepPorts: true, reason: 'idle'})
      }).catch((error) => this.log(`${c.name}: idle poweroff failed: ${String(error)}`))
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
    void this.serial(c.name, async () => {
      if (c.state !== 'running') return
      if (await this.systemctlInside(c, ['stop', '--no-block', ...awake], 'stop its quiet units')) this.log(`${c.name}: quiet, stopped ${awake.join(', ')} (socket-activated again when needed)`)
    })
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

  private async waitNoConnections(c: HeldContainer): Promise<void> {
    const ports = c.record.ports.map((e) => e.port)
    let logged = false
    while (c.state === 'running') {
      const open = [...establishedByPort(readTcpRows(), ports).values()].reduce((a, b) => a + b, 0)
      if (open === 0) return
      if (!logged) this.log(`${c.name}: ${open} connection(s) came in as it went idle; powering off when they end`)
      logged = true
      await new Promise((r) => setTimeout(r, 250))
    }
  }

  /** systemctl ARGS inside the running container; false (and logged) when it failed. */
  private async systemctlInside(c: HeldContainer, args: string[], what: string): Promise<boolean> {
    const leader = c.leaderPid()
    if (leader === undefined) return false
    try {
      const {run} = await import('../exec.js')
      await run(['nsenter', '-t', String(leader), '-a', 'systemctl', ...args], {timeoutMs: 10_000})
      return true
    } catch (error) {
      this.log(`${c.name}: could not ${what}: ${error instanceof Error ? error.message : String(error)}`)
      return false
    }
  }
}

/** Reads the held list without an activator (for `ctr ls` when it is down). */
export async function readHeld(root: string): Promise<string[]> {
  return (await readJson<HeldFile>(heldFile(root)))?.containers ?? []
}
