/**
 * The activator: every held container of one state root and the operations the control API offers
 * on them. What is held is kept in held.json (held-file.ts), the idle and quiet rules are in
 * idle-policy.ts, what runs inside a container in inside.ts. It never prints; it logs through the
 * `log` it is given.
 */
import {CtrError} from '../errors.js'
import {hostHasSystemd} from '../nspawn/argv.js'
import {storeStatus} from '../status/collect.js'
import type {ContainerHistory, ContainerStatus, StatusReport} from '../status/types.js'
import {getContainer, listContainerEntries, listingRecord, type ContainerRecord} from '../store/containers.js'
import {HeldContainer, type HeldContext} from './held-container.js'
import {HeldFileWriter, historyWorthKeeping, readHeldFile} from './held-file.js'
import {IdlePolicy} from './idle-policy.js'
import {powerOffOrphans} from './orphans.js'
import {processParents, readTcpRows} from './proc.js'
import {prepareTree} from './tree.js'
import {SocketWatcher} from './watcher.js'

export {DEFAULT_IDLE_CHECK_MS, DEFAULT_QUIET_MS} from './idle-policy.js'
export {heldFile, readHeld} from './held-file.js'

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
  private readonly queues = new Map<string, Promise<unknown>>()
  private readonly heldFile: HeldFileWriter
  private readonly idle: IdlePolicy
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
    this.heldFile = new HeldFileWriter(
      this.root,
      () => ({containers: this.heldAtShutdown ?? [...this.held.keys()].sort(), history: historyWorthKeeping(this.histories)}),
      this.log,
    )
    this.idle = new IdlePolicy({
      root: this.root,
      held: () => this.held.values(),
      serial: (name, body) => this.serial(name, body),
      log: this.log,
      idleCheckMs: options.idleCheckMs,
      quietMs: options.quietMs,
    })
  }

  /** Holds again what the last activator held. Containers that cannot be held are logged. */
  async restore(): Promise<string[]> {
    const file = await readHeldFile(this.root)
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
    this.idle.start()
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
    this.idle.stop()
    await Promise.all([...this.held.values()].map((c) => c.stop({keepPorts: false, reason: 'user'}).catch(() => {})))
    this.persist()
    await this.heldFile.flushed()
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

  /** Every container (a damaged record as a broken one, with the reason), read one after another. */
  private async readRecords(): Promise<ContainerRecord[]> {
    return (await listContainerEntries(this.root).catch(() => [])).map(listingRecord)
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

  private persist(): void {
    this.heldFile.persist()
  }

  /** Runs operations on one container one after another. */
  private serial<T>(name: string, body: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(name) ?? Promise.resolve()
    const mine = previous.catch(() => {}).then(body)
    this.queues.set(name, mine)
    void mine.finally(() => this.queues.get(name) === mine && this.queues.delete(name)).catch(() => {})
    return mine
  }
}
