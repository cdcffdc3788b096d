/**
 * The activator: every held container of one state root and the operations the control API offers
 * on them. What is held is kept in held.json (held-file.ts), copies of the held sockets in the
 * socket holder (socket-holder.ts), the idle and quiet rules are in idle-policy.ts, what runs
 * inside a container in inside.ts. An activator that starts takes over from the last one: the same
 * sockets (from the holder, or handed over), and the boots that still run (adopted, not booted
 * again). It never prints; it logs through the `log` it is given.
 */
import {CtrError} from '../errors.js'
import {hostHasSystemd} from '../nspawn/argv.js'
import {storeStatus} from '../status/collect.js'
import type {ContainerHistory, ContainerStatus, StatusReport} from '../status/types.js'
import {getContainer, listContainerEntries, listingRecord, type ContainerRecord, type Exposure} from '../store/containers.js'
import {containerPaths} from '../store/paths.js'
import {closeFd} from '../sys/socket.js'
import {HeldContainer, type HeldContext, type RunningBoot} from './held-container.js'
import {HeldFileWriter, historyWorthKeeping, readHeldFile} from './held-file.js'
import {IdlePolicy} from './idle-policy.js'
import {instancesOn, killInits} from './instances.js'
import {processParents, readTcpRows, scanProcesses, type ProcessEntry} from './proc.js'
import {portsFixedWhileUp, type HandedOver} from './protocol.js'
import {SocketHolder, takeBackSockets} from './socket-holder.js'
import {drainConnections} from './drain.js'
import {stopSocketUnits} from './inside.js'
import {moveToScope, ownUnit} from './systemd-unit.js'
import {ContainerQueues} from './queues.js'
import {prepareTree} from './tree.js'
import {SocketWatcher} from './watcher.js'

/** How often a container that could not be held again (a port briefly taken) is tried again. */
const RETRY_HOLD_MS = 2000
/** A pause that no refresh ended (ctr was killed meanwhile) ends by itself after this. */
const PAUSE_LIMIT_MS = 60_000
/** How long a status request waits for the restore to finish (status()). */
const STATUS_RESTORE_WAIT_MS = 5000
/**
 * How long `ctr stop --hold` waits, once the container's socket units are stopped, for the
 * connections it accepted to end: long enough for one accepted just before to get sshd's banner
 * on a busy host, short enough that an open session delays the stop by no more.
 */
const STOP_DRAIN_MS = 2000

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
  private readonly queues: ContainerQueues
  private readonly heldFile: HeldFileWriter
  private readonly idle: IdlePolicy
  private readonly holder: SocketHolder
  /** Containers held.json lists that could not be held again yet, with the reason; retried. */
  private readonly pending = new Map<string, string>()
  private retryTimer?: NodeJS.Timeout
  private heldAtShutdown?: string[]
  /** Set once the state is handed to another activator: this one does nothing more. */
  private handedOver = false
  /** Resolves when restore() has held what the last activator held. */
  readonly ready: Promise<void>
  private markReady!: () => void

  constructor(private readonly options: ActivatorOptions) {
    this.root = options.root
    this.log = options.log ?? (() => {})
    // Run as a systemd service: the holder and each nspawn leave its cgroup (systemd-unit.ts).
    const unit = ownUnit()
    const intoScope = unit
      ? (pid: number, kind: 'holder' | 'nspawn', what: string) =>
          moveToScope(pid, kind, `ctr ${what} (${this.root})`, unit).catch((error: unknown) => this.log(`${what}: left in ${unit}: ${error instanceof Error ? error.message : String(error)}`))
      : undefined
    this.ctx = {
      root: this.root,
      watcher: this.watcher,
      hostHasSystemd: hostHasSystemd(),
      intoScope: intoScope && ((pid, name) => void intoScope(pid, 'nspawn', `nspawn of ${name}`)),
      stopTimeoutMs: options.stopTimeoutMs ?? 30_000,
      log: this.log,
      prepareTree: (record) => prepareTree(this.root, record),
      onReleased: (name) => {
        this.held.delete(name)
        this.persist()
        this.holder.sync()
      },
      onSettled: () => this.persist(),
      onBooted: () => this.persist(),
    }
    this.ready = new Promise((resolve) => (this.markReady = resolve))
    this.queues = new ContainerQueues({
      ready: this.ready,
      gate: () => {
        if (this.handedOver) throw new CtrError('ACTIVATOR_DOWN', 'the activator is handing over to a new one', {hints: ['try again in a moment']})
      },
    })
    this.heldFile = new HeldFileWriter(
      this.root,
      () => ({
        containers: this.heldAtShutdown ?? this.heldNames(),
        history: historyWorthKeeping(this.histories),
        running: this.runningBoots(),
        clean: this.heldAtShutdown !== undefined,
      }),
      this.log,
    )
    this.holder = new SocketHolder(this.root, () => [...this.held.values()].flatMap((c) => c.socketRefs()), this.log, intoScope && ((pid) => intoScope(pid, 'holder', 'socket holder')))
    this.idle = new IdlePolicy({
      root: this.root,
      held: () => this.held.values(),
      serial: (name, body) => this.serial(name, body),
      log: this.log,
      idleCheckMs: options.idleCheckMs,
      quietMs: options.quietMs,
    })
  }

  /**
   * Takes over from the last activator: holds again what it held, with the very sockets it held
   * (HANDED over by it, or kept by the socket holder after it died; bound anew only when neither
   * has them), and adopts the boots that still run. One scan of /proc in all. A container that
   * cannot be held now stays listed and is tried again every few seconds.
   */
  async restore(handed?: {state: HandedOver; sockets: Map<string, number>}): Promise<string[]> {
    const file = handed ? undefined : await readHeldFile(this.root)
    for (const [name, history] of Object.entries(handed?.state.history ?? file?.history ?? {})) this.histories.set(name, history)
    const running = handed?.state.running ?? file?.running ?? {}
    await this.holder.adopt()
    const sockets = handed?.sockets ?? (await takeBackSockets(this.root))
    const processes = scanProcesses()
    const strays = this.holder.stopStrays(processes)
    if (strays.length > 0) this.log(`stopped socket holders no record names: ${strays.join(', ')}`)
    const restored: string[] = []
    for (const name of handed?.state.containers ?? file?.containers ?? []) {
      try {
        if (await this.takeOver(name, sockets, running[name], processes)) restored.push(name)
      } catch (error) {
        this.pending.set(name, error instanceof Error ? error.message : String(error))
        this.log(`${name}: not held again yet: ${this.pending.get(name)}`)
      }
    }
    // Sockets no container claims any more (unexposed meanwhile) are not held.
    for (const fd of sockets.values()) closeFd(fd)
    this.persist()
    this.holder.sync()
    this.idle.start()
    this.retryTimer = setInterval(() => void this.retryPending(), RETRY_HOLD_MS)
    this.retryTimer.unref()
    this.markReady()
    return restored
  }

  /** Holds NAME again, adopting its boot if one runs; false when it no longer exists. */
  private async takeOver(name: string, sockets: Map<string, number>, boot: RunningBoot | undefined, processes: readonly ProcessEntry[]): Promise<boolean> {
    let record: ContainerRecord
    try {
      record = await getContainer(this.root, name)
    } catch (error) {
      if (error instanceof CtrError && error.code === 'NOT_FOUND') return false
      throw error
    }
    const c = new HeldContainer(this.ctx, record, this.historyOf(name), sockets)
    this.held.set(name, c)
    const {nspawn, inits} = instancesOn(containerPaths(this.root, name).rootfs, processes)
    const pid = boot && nspawn.includes(boot.nspawnPid) ? boot.nspawnPid : nspawn[0]
    if (pid !== undefined && nspawn.length === 1) {
      try {
        c.adopt({...boot, nspawnPid: pid})
        this.log(`${name}: running (nspawn ${pid}), taken over`)
        return true
      } catch {}
    }
    // No boot to take over, or more than one on the same tree: none of them may go on.
    if (inits.length > 0) {
      this.log(`${name}: killing ${inits.length > 1 ? 'instances' : 'an instance'} left without a tracked nspawn (init ${inits.join(', ')})`)
      await killInits(inits)
    }
    c.listen()
    this.log(`${name}: holding ${record.ports.map((e) => e.port).join(', ') || 'no ports'}`)
    return true
  }

  private async retryPending(): Promise<void> {
    for (const name of [...this.pending.keys()]) {
      await this.serial(name, async () => {
        if (!this.pending.has(name) || this.held.has(name)) return
        try {
          await this.hold(name, {now: false, persist: true})
          this.pending.delete(name)
          this.log(`${name}: held again`)
        } catch (error) {
          if (error instanceof CtrError && (error.code === 'NOT_FOUND' || error.code === 'INVALID_NAME')) this.pending.delete(name)
          else this.pending.set(name, error instanceof Error ? error.message : String(error))
        }
      }).catch(() => {})
    }
  }

  /**
   * Hands everything to the activator that replaces this one (ctr activator --restart, a newer
   * build): stops watching and timing, so that from now on only the new one acts, and says what
   * it needs. The caller keeps this process alive until the new one has copied the sockets.
   */
  async handover(): Promise<HandedOver> {
    await this.ready
    this.handedOver = true
    this.idle.stop()
    clearInterval(this.retryTimer)
    await this.queues.settled()
    await this.watcher.close()
    // The new activator holds them from here: no timer of this one may act on them any more.
    for (const c of this.held.values()) c.retire()
    await this.holder.synced()
    const sockets: Record<string, number> = {}
    for (const c of this.held.values()) for (const s of c.socketRefs()) sockets[s.key] = s.fd
    const state: HandedOver = {
      pid: process.pid,
      containers: this.heldNames(),
      history: Object.fromEntries(this.histories),
      running: this.runningBoots(),
      sockets,
    }
    this.persist()
    await this.heldFile.flushed()
    return state
  }

  private heldNames(): string[] {
    return [...new Set([...this.held.keys(), ...this.pending.keys()])].sort()
  }

  private runningBoots(): Record<string, RunningBoot> {
    const boots: Record<string, RunningBoot> = {}
    for (const c of this.held.values()) {
      const boot = c.runningBoot()
      if (boot) boots[c.name] = boot
    }
    return boots
  }

  /** `ctr start`: hold the container's ports; boot it at once with NOW. */
  async start(name: string, options: {now: boolean}): Promise<ContainerStatus & {already?: 'held' | 'running'}> {
    return this.serial(name, async () => {
      const existing = this.held.get(name)
      // As systemctl start: started already is started (a connection may have woken it a moment ago).
      const already = existing === undefined ? undefined : existing.state === 'listening' && !options.now ? 'held' : existing.state !== 'listening' ? 'running' : undefined
      await this.hold(name, {now: options.now, persist: true})
      return {...(await this.statusOf(name)), ...(already ? {already} : {})}
    })
  }

  /** `ctr stop`: power off; release the ports unless KEEP_PORTS. */
  async stop(name: string, options: {keepPorts: boolean}): Promise<ContainerStatus> {
    // An idle poweroff ahead of it in the queue, waiting for late sessions to end, stops waiting.
    const queued = this.held.get(name)
    if (queued) queued.stopWanted = true
    return this.serial(name, async () => {
      const record = await getContainer(this.root, name)
      const c = this.held.get(name)
      if (!c) throw new CtrError('NOT_RUNNING', `${name} is not started`, {hints: [`start it: ctr start ${name}`]})
      if (c.state === 'listening' && options.keepPorts) {
        throw new CtrError('NOT_RUNNING', `${name} is not running (its ports are held already)`)
      }
      // Ports kept: what comes in meanwhile waits for the next boot (inside.ts). A connection the
      // container accepted a moment ago may not have had its greeting yet: it gets STOP_DRAIN_MS
      // to end. Sessions still open then end with the poweroff, as asked.
      if (options.keepPorts && c.state === 'running') {
        await stopSocketUnits(name, c.leaderPid(), this.log)
        const drained = await drainConnections(c, {limitMs: STOP_DRAIN_MS, pollMs: 20})
        if (drained.how === 'limit') this.log(`${name}: ${drained.open} session(s) open at the stop end with the poweroff`)
      }
      await c.stop({keepPorts: options.keepPorts, reason: 'user'})
      await this.portsLetGo()
      return this.held.get(name)?.status(readTcpRows(), undefined) ?? this.notHeldStatus(record)
    })
  }

  /** For `ctr rm`: power off and release if held; nothing if not. */
  async forget(name: string): Promise<void> {
    const queued = this.held.get(name)
    if (queued) queued.stopWanted = true
    return this.serial(name, async () => {
      await this.held.get(name)?.stop({keepPorts: false, reason: 'user'})
      await this.portsLetGo()
      this.histories.delete(name)
      this.persist()
    })
  }

  /**
   * `ctr expose`/`unexpose`, first step: the container must be off (RUNNING otherwise: a running
   * container's systemd cannot be handed a new socket, and would go on serving one taken away).
   * A held one gets the sockets of PORTS bound now (all or nothing: PORT_BUSY changes nothing) and
   * is not watched until `refresh` (or PAUSE_LIMIT_MS): connections wait in the backlog, and
   * nothing boots it, while ctr rewrites its tree and record. Every other operation on it waits.
   */
  pause(name: string, ports: Exposure[]): Promise<ContainerStatus> {
    return this.queues.keep(
      name,
      async () => {
        const c = this.held.get(name)
        if (c && c.state !== 'listening') throw portsFixedWhileUp(name, c.state)
        c?.pause(ports)
        return this.statusOf(name)
      },
      PAUSE_LIMIT_MS,
      () => void this.resume(name),
    )
  }

  /** The record changed (expose/unexpose, update): hold the new set of ports if the container is held. */
  async refresh(name: string): Promise<ContainerStatus> {
    if (this.queues.isKept(name)) return this.resume(name)
    return this.serial(name, async () => {
      const record = await getContainer(this.root, name)
      this.held.get(name)?.refresh(record)
      await this.portsLetGo()
      return this.statusOf(name)
    })
  }

  /** Ends a pause: the record on disk says which ports are held now (the new set, or the old one if ctr failed). */
  private async resume(name: string): Promise<ContainerStatus> {
    try {
      const record = await getContainer(this.root, name).catch(() => undefined)
      const c = this.held.get(name)
      if (record) c?.refresh(record)
      else c?.unpause()
      await this.portsLetGo()
      return await this.statusOf(name)
    } finally {
      this.queues.release(name)
    }
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

  /**
   * Once restore() has held again what the last activator held (a `ctr ls` right after a crash
   * started this one: answered sooner, it would list a running container as stopped), but not
   * later than STATUS_RESTORE_WAIT_MS: a restore that takes longer is answered with what is held
   * so far (the rest shows as not held yet).
   */
  async status(): Promise<StatusReport> {
    let timer: NodeJS.Timeout | undefined
    await Promise.race([this.ready, new Promise((resolve) => (timer = setTimeout(resolve, STATUS_RESTORE_WAIT_MS)))])
    clearTimeout(timer)
    return this.collect()
  }

  /** Powers off running containers (their ports stay recorded as held) and stops watching. */
  async shutdown(): Promise<void> {
    // What is held now stays recorded as held, though every container is released below.
    if (this.handedOver) return
    this.heldAtShutdown = this.heldNames()
    this.idle.stop()
    clearInterval(this.retryTimer)
    await Promise.all([...this.held.values()].map((c) => c.stop({keepPorts: false, reason: 'user'}).catch(() => {})))
    await this.holder.stop()
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
    const pending = this.pending.get(record.name)
    return {...storeStatus(record), ...this.histories.get(record.name), ...(pending ? {lastError: `not held yet, retrying: ${pending}`} : {})}
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
      if (existing.state === 'listening' && options.now) await this.bootNow(existing)
      return existing
    }
    if (record.ports.length === 0 && !options.now) {
      throw new CtrError('INVALID_ARGUMENT', `${name} exposes no port, so no connection could wake it`, {
        hints: [`expose one: ctr expose 2222 ssh -c ${name}`, `or boot it now: ctr start --now ${name}`],
      })
    }
    // Nothing else may run on the tree: a boot by hand is refused, an init left by a killed nspawn is ended.
    const {nspawn, inits} = instancesOn(containerPaths(this.root, name).rootfs)
    if (nspawn.length > 0) {
      throw new CtrError('RUNNING', `${name} runs outside ctr (systemd-nspawn pid ${nspawn.join(', ')})`, {hints: ['power that one off first']})
    }
    if (inits.length > 0) {
      this.log(`${name}: killing an instance left without its nspawn (init ${inits.join(', ')})`)
      await killInits(inits)
    }
    const c = new HeldContainer(this.ctx, record, this.historyOf(name))
    this.pending.delete(name)
    this.held.set(name, c)
    if (options.persist) this.persist()
    this.holder.sync()
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

  /** The socket holder has the held set now: a port let go (stop, rm, unexpose) is free when this resolves. */
  private async portsLetGo(): Promise<void> {
    this.holder.sync()
    await this.holder.synced()
  }

  /** Runs operations on one container one after another. */
  private serial<T>(name: string, body: () => Promise<T>): Promise<T> {
    return this.queues.run(name, body)
  }
}
