/**
 * One held container: its sockets, and the watch -> boot -> watch cycle around them.
 *
 *   listening --readable/wake--> booting --queue emptied--> running --exit--> listening
 *                                                          (133: booting again; stop: released)
 *
 * The activator never accepts: on readable it stops watching, spawns nspawn with every socket of
 * the container as fds 3.., keeps its own copies open, and watches again when nspawn exits.
 */
import {CtrError} from '../errors.js'
import {nspawnArgv} from '../nspawn/argv.js'
import type {ContainerHistory, ContainerStatus} from '../status/types.js'
import {recordBinds, serviceBinds, type ContainerRecord, type Exposure} from '../store/containers.js'
import {findService} from '../units/services.js'
import {dropQueued, isReadable} from '../sys/socket.js'
import {pidfdOpenOf} from '../sys/pidfd.js'
import {closeFd} from '../sys/socket.js'
import {containerPaths} from '../store/paths.js'
import {armSockets, exposureKey, releaseSockets, sameSocket, type HeldSocket} from './held-sockets.js'
import {applyCgroupLimits, cgroupPids, cgroupUsage, containerCgroupDirs, makeContainerCgroups, removeContainerCgroups} from './cgroups.js'
import {instancesOn, killInits} from './instances.js'
import type {HeldSocketRef} from './socket-holder.js'
import {containerLeader, processName, processTree, residentBytes, type TcpRow} from './proc.js'
import {openConnections} from './drain.js'
import {Poweroff} from './poweroff.js'
import {isolationOf} from '../status/collect.js'
import {networkReady, prepareNetwork, teardownNetwork} from '../network/netns.js'
import {ensureNat} from '../network/veth.js'
import {existsSync} from 'node:fs'
import {consoleLog} from './protocol.js'
import {idmapsLowers} from '../rootfs/uid-ranges.js'
import {spawnNspawn, type SpawnDeps, type SpawnedContainer} from './spawn-nspawn.js'
import {afterExit, describeExit, rebootLoopMessage, type RebootPolicy, type StopRequest} from './transitions.js'
import type {SocketWatcher} from './watcher.js'

export type HeldState = 'listening' | 'booting' | 'running' | 'stopping'

/** A boot that runs: what an activator hands the next one (or held.json keeps) to take it over. */
export interface RunningBoot {
  nspawnPid: number
  /** ms timestamps, as Date.now(). */
  bootStartedAt?: number
  idleSince?: number
  quietStopAt?: number
}

export interface HeldContext {
  root: string
  watcher: SocketWatcher
  hostHasSystemd: boolean
  stopTimeoutMs: number
  log: (message: string) => void
  /** Makes the tree bootable (mounts the overlay); returns its path. */
  prepareTree: (record: ContainerRecord) => Promise<string>
  /** Called when the container is no longer held (stopped without --hold, or forgotten). */
  onReleased: (name: string) => void
  /** Called after every exit of nspawn (or failed boot), once the history says what happened. */
  onSettled: (name: string) => void
  /** Called when nspawn was spawned (so held.json says which boot runs). */
  onBooted?: (name: string) => void
  /** Moves a spawned nspawn out of the activator's systemd unit, when it runs as one (systemd-unit.ts). */
  intoScope?: (pid: number, name: string) => void
  /** Replaces the pidfd opener of spawnNspawn (tests of a failure that cannot be caused for real). */
  spawnDeps?: SpawnDeps
  /** How reboot loops are slowed down and ended (transitions.ts REBOOT_POLICY unless a test says). */
  rebootPolicy?: RebootPolicy
}

/** How often the accept queue is looked at while a woken container boots. */
const WAKE_PROBE_MS = 5
/** A container that has not accepted by then is taken as running (and something as wrong). */
const WAKE_PROBE_LIMIT_MS = 60_000
/** A container up this long has booted, even if no connection measured it. */
const SERVED_AFTER_MS = 15_000
export class HeldContainer {
  state: HeldState = 'listening'
  private sockets: HeldSocket[]
  /** nspawn was spawned and has not exited yet. */
  private spawned = false
  private pid?: number
  private bootStartedAt?: number
  private served = false
  private stopRequest?: StopRequest
  private poweroff?: Poweroff
  private leader?: {nspawn: number; pid: number}
  private wakeProbe?: NodeJS.Timeout
  /** A reboot the container asked for, waiting out its back-off (see afterReboot). */
  private rebootTimer?: NodeJS.Timeout
  /** Quick reboots in a row so far (reset by any other exit, or a stop). */
  private quickReboots = 0
  private exitWaiters: Array<() => void> = []
  private outputTail: (lines?: number) => string[] = () => []
  /** Bound by a pause (expose) and not held until the refresh that ends it. */
  private pendingSockets?: HeldSocket[]
  /** The nspawn runs but is not this process's child: taken over from an earlier activator. */
  private adopted = false
  /** Handed over to a new activator (retire()). */
  private retired = false
  /** Its network namespace being made (prepareNetwork). */
  private networkSetup?: Promise<void>
  /** Its veth address is in the root's NAT set, as this activator saw to. */
  private natEnsured = false
  /** ms timestamp since when no connection was seen, while running. */
  idleSince?: number
  /** A stop or rm is queued for it: an idle poweroff waiting for sessions to end gives way (IdlePolicy). */
  stopWanted = false
  /** When the profile's sleepWhenQuiet units were last stopped (ms timestamp), in this boot. */
  quietStopAt?: number

  constructor(
    private readonly ctx: HeldContext,
    public record: ContainerRecord,
    /** Shared with the activator, which keeps it when the container is released. */
    readonly history: ContainerHistory = {wakes: 0},
    /** Sockets taken back from the socket holder or the previous activator, by key (used ones are removed). */
    taken?: Map<string, number>,
  ) {
    this.sockets = armSockets(record.name, record.ports, taken)
  }

  /** The held sockets, for the socket holder. */
  socketRefs(): HeldSocketRef[] {
    return this.sockets.map((s) => ({key: exposureKey(s.exposure), port: s.exposure.port, fd: s.fd}))
  }

  /** What the next activator needs to take this boot over, while it runs. */
  runningBoot(): RunningBoot | undefined {
    if (this.pid === undefined || (this.state !== 'running' && this.state !== 'booting')) return undefined
    return {nspawnPid: this.pid, bootStartedAt: this.bootStartedAt, idleSince: this.idleSince, quietStopAt: this.quietStopAt}
  }

  /**
   * Takes over a boot that runs already (an earlier activator started it, then died or handed
   * over): running from now, its nspawn's exit seen through a pidfd. Throws when it is gone.
   */
  adopt(boot: RunningBoot): void {
    const pidfd = pidfdOpenOf(boot.nspawnPid)
    this.ctx.watcher.unwatch(this.name)
    this.state = 'running'
    this.spawned = true
    this.adopted = true
    this.served = true
    this.pid = boot.nspawnPid
    this.bootStartedAt = boot.bootStartedAt ?? Date.now()
    this.idleSince = boot.idleSince
    this.quietStopAt = boot.quietStopAt
    // An earlier activator of an older build left it in the unit's cgroup.
    this.ctx.intoScope?.(boot.nspawnPid, this.name)
    this.ctx.watcher.watch(`exit:${boot.nspawnPid}`, [pidfd], () => {
      closeFd(pidfd)
      // Not this process's child: its status is its parent's (or init's) to read. A reboot it asked
      // for is taken as a poweroff; the next connection boots it again.
      this.finishExit(0, null)
    })
  }

  get name(): string {
    return this.record.name
  }

  get nspawnPid(): number | undefined {
    return this.pid
  }

  /**
   * This activator has handed over to a new one, which holds the container from now on: nothing
   * left here may act on it any more (a reboot's pause, a wake probe, a late removal of cgroups,
   * which would hit the new activator's boot of the same container).
   */
  retire(): void {
    this.retired = true
    clearTimeout(this.rebootTimer)
    this.rebootTimer = undefined
    clearTimeout(this.wakeProbe)
  }

  /** Watch the sockets; the first readable one boots the container. */
  listen(): void {
    this.state = 'listening'
    // A private or veth container's network is made while it sleeps, so that a wake does not wait for it.
    // One that is there already (an earlier activator made it) still needs its NAT, which goes
    // with a host reboot or a flushed ruleset: made again, once per activator.
    const address = this.record.network === 'veth' ? this.record.address : undefined
    const work = !networkReady(this.ctx.root, this.record) ? this.prepareNetwork() : address && !this.natEnsured ? ensureNat(this.ctx.root, address) : undefined
    work?.then(
      () => {
        this.natEnsured = address !== undefined
      },
      (error) => {
        this.history.lastError = `its network namespace could not be set up: ${error instanceof Error ? error.message : String(error)}`
        this.ctx.log(`${this.name}: ${this.history.lastError}`)
      },
    )
    this.ctx.watcher.watch(
      this.name,
      this.sockets.map((s) => s.fd),
      (fd) => void this.boot(fd),
    )
  }

  /** Boots now: on a connection (TRIGGER_FD readable) or because a command asked (--now, shell). */
  async boot(triggerFd?: number): Promise<void> {
    if (this.rebootTimer) {
      // Asked now (ctr start --now, shell) while a reboot waits out its pause: boot at once.
      clearTimeout(this.rebootTimer)
      this.rebootTimer = undefined
      this.state = 'listening'
    }
    if (this.state === 'booting' || this.state === 'running') return
    this.ctx.watcher.unwatch(this.name)
    this.state = 'booting'
    this.served = false
    this.idleSince = undefined
    this.quietStopAt = undefined
    const woken = performance.now()
    if (triggerFd !== undefined) {
      this.history.wakes++
      this.history.lastWakeAt = new Date().toISOString()
    }
    let tree: string
    try {
      tree = await this.ctx.prepareTree(this.record)
    } catch (error) {
      this.bootFailed(`cannot prepare the tree: ${error instanceof Error ? error.message : String(error)}`)
      return
    }
    if (!this.ctx.hostHasSystemd) await this.clearCgroups()
    if (this.stopRequest) {
      this.finishExit(null, null)
      return
    }
    try {
      await this.networkForBoot()
    } catch (error) {
      this.bootFailed(`its network could not be set up: ${error instanceof Error ? error.message : String(error)}`)
      return
    }
    if (this.stopRequest) {
      this.finishExit(null, null)
      return
    }
    const own = recordBinds(this.record)
    const binds = [...serviceBinds(this.record, (service) => findService(service)?.docroot), ...own.readOnly]
    const netns = containerPaths(this.ctx.root, this.name).netns
    const argv = nspawnArgv({tree, machine: this.name, hostHasSystemd: this.ctx.hostHasSystemd, bindsReadOnly: binds, bindsReadWrite: own.readWrite, capabilities: this.record.capabilities, systemCalls: this.record.systemCalls, limits: this.record.limits, network: this.record.network, netns, privateUsers: this.record.privateUsers, uidBase: this.record.uidBase, shiftedTree: idmapsLowers(this.record)})
    // A cgroup of its own (cgroups.ts); on a systemd host, registration makes its scope instead.
    const cgroups = this.ctx.hostHasSystemd ? [] : makeContainerCgroups(this.ctx.root, this.name, this.ctx.log, this.record.limits)
    let spawned: SpawnedContainer
    try {
      spawned = spawnNspawn(
        argv,
        this.sockets.map((s) => s.fd),
        consoleLog(this.ctx.root, this.name),
        this.ctx.watcher,
        (code, signalName) => this.finishExit(code, signalName),
        this.ctx.spawnDeps,
        cgroups,
      )
    } catch (error) {
      this.bootFailed(`cannot run systemd-nspawn: ${error instanceof Error ? error.message : String(error)}`)
      return
    }
    this.spawned = true
    this.outputTail = spawned.outputTail
    this.bootStartedAt = Date.now()
    if (spawned.pid >= 0) this.ctx.onBooted?.(this.name)
    const spawnedMs = (performance.now() - woken).toFixed(1)
    this.ctx.log(`${this.name}: booting (pid ${spawned.pid}, nspawn spawned ${spawnedMs} ms after the ${triggerFd !== undefined ? 'connection' : 'request'})`)
    if (spawned.pid < 0) return
    this.pid = spawned.pid
    // Out of the activator's unit once it serves (a fork of the activator and a job of systemd's,
    // kept off the wake path): until then a kill of the whole unit would take this boot with it.
    const pid = spawned.pid
    const running = () => {
      this.state = 'running'
      if (this.pid === pid) this.ctx.intoScope?.(pid, this.name)
    }
    if (triggerFd === undefined) {
      running()
      return
    }
    // Woken by a connection: booted is when the container's systemd has accepted what waited, i.e.
    // the held socket's accept queue is empty (poll says not readable).
    const probe = () => {
      if (this.state !== 'booting') return
      if (performance.now() - woken > WAKE_PROBE_LIMIT_MS) {
        running()
        this.history.lastError = `nothing in ${this.name} accepted the connection within ${WAKE_PROBE_LIMIT_MS / 1000} s: is the service's socket unit enabled there?`
        this.ctx.log(`${this.name}: ${this.history.lastError}`)
        return
      }
      if (!isReadable(triggerFd)) {
        this.history.lastWakeMs = Math.round(performance.now() - woken)
        this.served = true
        this.history.lastError = undefined
        running()
        this.ctx.log(`${this.name}: serving, ${this.history.lastWakeMs} ms after the first connection`)
        return
      }
      this.wakeProbe = setTimeout(probe, WAKE_PROBE_MS)
    }
    probe()
  }

  /** Power off (SIGTERM to nspawn = orderly poweroff; SIGKILL after the timeout). */
  async stop(request: StopRequest): Promise<void> {
    if (this.rebootTimer) {
      // Between two boots of a reboot: nothing runs, so the stop is done once the reboot is off.
      clearTimeout(this.rebootTimer)
      this.rebootTimer = undefined
      this.quickReboots = 0
      this.history.lastStopReason = request.reason
      this.ctx.log(`${this.name}: reboot called off (${request.reason})`)
      const settled = new Promise<void>((resolve) => this.exitWaiters.push(resolve))
      this.settle(!request.keepPorts)
      await settled
      return
    }
    if (this.state === 'listening') {
      if (!request.keepPorts) await this.release()
      return
    }
    this.stopRequest = request
    const exited = new Promise<void>((resolve) => this.exitWaiters.push(resolve))
    if (this.pid !== undefined && this.state !== 'stopping') {
      this.state = 'stopping'
      this.ctx.log(`${this.name}: powering off (${request.reason}${request.keepPorts ? ', ports stay held' : ''})`)
      this.poweroff = new Poweroff({name: this.name, nspawnPid: this.pid, leaderPid: () => this.leaderPid(), timeoutMs: this.ctx.stopTimeoutMs, log: this.ctx.log})
      this.poweroff.start()
    }
    this.state = 'stopping'
    await exited
  }

  /** Closes the held sockets, once no poll holds them any more; the container is no longer held. */
  async release(): Promise<void> {
    this.ctx.watcher.unwatch(this.name)
    const sockets = this.sockets
    this.sockets = []
    await this.ctx.watcher.settled(sockets.map((s) => s.fd))
    releaseSockets(sockets)
    this.ctx.onReleased(this.name)
  }

  /**
   * The record changed (expose/unexpose): hold the new port set. Sockets kept are the same fds; a
   * running container gets the new set at its next boot.
   */
  refresh(record: ContainerRecord): void {
    const keep = this.sockets.filter((s) => record.ports.some((e) => sameSocket(e, s.exposure)))
    const bound = this.pendingSockets ?? []
    const fromPause = bound.filter((s) => record.ports.some((e) => sameSocket(e, s.exposure)))
    const added = [
      ...fromPause,
      ...armSockets(
        record.name,
        record.ports.filter((e) => ![...this.sockets, ...fromPause].some((s) => sameSocket(e, s.exposure))),
      ),
    ]
    const dropped = [...this.sockets.filter((s) => !keep.includes(s)), ...bound.filter((s) => !fromPause.includes(s))]
    // New limits reach a running container's cgroups at once, where the kernel takes them.
    if (this.spawned && !this.ctx.hostHasSystemd && JSON.stringify(record.limits) !== JSON.stringify(this.record.limits)) {
      for (const failure of applyCgroupLimits(containerCgroupDirs(this.ctx.root, this.name), record.limits)) this.ctx.log(`${this.name}: limit not set now (at its next boot): ${failure}`)
    }
    const watching = this.ctx.watcher.isWatching(this.name) || this.pendingSockets !== undefined
    this.pendingSockets = undefined
    this.ctx.watcher.unwatch(this.name)
    this.sockets = [...keep, ...added]
    this.record = record
    if (watching) this.listen()
    void this.ctx.watcher.settled(dropped.map((s) => s.fd)).then(() => releaseSockets(dropped))
  }

  /**
   * expose/unexpose (Activator.pause): stop watching until refresh, with the sockets of PORTS that
   * are not held yet bound now, so that a port that cannot be bound changes nothing.
   */
  pause(ports: readonly Exposure[]): void {
    const added = armSockets(
      this.name,
      ports.filter((e) => !this.sockets.some((s) => sameSocket(e, s.exposure))),
    )
    if (this.pendingSockets) releaseSockets(this.pendingSockets)
    this.pendingSockets = added
    this.ctx.watcher.unwatch(this.name)
  }

  /** Ends a pause with the ports as they were (the record could not be read). */
  unpause(): void {
    if (!this.pendingSockets) return
    releaseSockets(this.pendingSockets)
    this.pendingSockets = undefined
    if (this.state === 'listening') this.listen()
  }

  private bootFailed(message: string): void {
    // A spawn that failed made the cgroups for nothing.
    if (!this.ctx.hostHasSystemd) this.removeCgroups(5)
    this.history.lastError = message
    this.history.lastStopReason = 'boot-failed'
    this.ctx.log(`${this.name}: boot failed: ${message}`)
    for (const s of this.sockets) dropQueued(s.fd)
    this.settle(this.stopRequest !== undefined && !this.stopRequest.keepPorts)
  }

  /** After an exit: hold and watch again, or release; then wake whoever waits for the exit. */
  private settle(release: boolean): void {
    const waiters = this.exitWaiters.splice(0)
    this.stopRequest = undefined
    this.stopWanted = false
    this.ctx.onSettled(this.name)
    const done = () => {
      for (const w of waiters) w()
    }
    if (release) {
      void this.release().then(done)
    } else {
      this.listen()
      done()
    }
  }

  private finishExit(code: number | null, signalName: NodeJS.Signals | null): void {
    if (!this.spawned && this.state !== 'booting' && this.state !== 'stopping') return
    this.poweroff?.cancel()
    this.poweroff = undefined
    clearTimeout(this.wakeProbe)
    const ranMs = this.bootStartedAt === undefined ? 0 : Date.now() - this.bootStartedAt
    const decision = afterExit({
      code,
      signal: signalName,
      stopRequest: this.stopRequest,
      // A killed nspawn crashed; it did not fail to boot (whose connections would be dropped).
      served: this.served || ranMs > SERVED_AFTER_MS || signalName !== null,
      ranMs,
      quickReboots: this.quickReboots,
      policy: this.ctx.rebootPolicy,
    })
    // nspawn 252 prints this at every exit on a host without systemd; it says nothing about the boot.
    const output = this.outputTail(10).filter((line) => !line.startsWith('Attempted to remove disk file system under'))
    const adopted = this.adopted
    this.spawned = false
    this.adopted = false
    this.pid = undefined
    this.bootStartedAt = undefined
    this.ctx.log(`${this.name}: nspawn ${describeExit(code, signalName)} after ${ranMs} ms`)
    // A killed nspawn leaves the container's init running, and an adopted one's end is not seen
    // closely: nothing of this instance may live on before the tree is held (or booted) again.
    if (signalName !== null || adopted) {
      this.state = 'stopping'
      void this.killLeftovers().then(() => this.afterExitDecided(decision, code, signalName, output))
      return
    }
    this.afterExitDecided(decision, code, signalName, output)
  }

  /**
   * The container's cgroups once it has exited. A cgroup whose last processes are still exiting
   * cannot be removed yet: tried again a second later, while the container stays off (a boot
   * makes them anew and must not lose them to a late retry).
   */
  private removeCgroups(tries: number): void {
    if (this.retired || removeContainerCgroups(this.ctx.root, this.name) || tries <= 1) return
    setTimeout(() => {
      if (!this.spawned && this.state !== 'booting') this.removeCgroups(tries - 1)
    }, 1000).unref()
  }

  /**
   * A boot starts in cgroups of its own: what the last boot left is removed first (its cgroups, if
   * the removal after its exit did not finish; a process that outlived its nspawn, killed: nothing
   * of an earlier instance may share the new one's cgroups).
   */
  private async clearCgroups(): Promise<void> {
    for (let tries = 0; !removeContainerCgroups(this.ctx.root, this.name); tries++) {
      const rest = containerCgroupDirs(this.ctx.root, this.name).flatMap(cgroupPids)
      if (tries >= 50) {
        this.ctx.log(`${this.name}: its cgroups of an earlier boot could not be removed (processes ${rest.slice(0, 10).join(', ') || 'none'}); booting in them`)
        return
      }
      if (rest.length > 0 && tries === 10) {
        this.ctx.log(`${this.name}: ${rest.length} process(es) of an earlier boot still in its cgroup; killing them`)
        await killInits([...new Set(rest)])
      }
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
  }

  /**
   * What a boot needs of the network: a private or veth container's namespace (network/netns.ts),
   * made while it slept (listen()); only when it is not there yet (a wake right after the activator
   * started, or after a host reboot took it) is it made here, on the wake path. A container whose
   * network is the host's again loses what it had.
   */
  private async networkForBoot(): Promise<void> {
    if (this.record.network === 'private' || this.record.network === 'veth') {
      if (networkReady(this.ctx.root, this.record)) return
      this.ctx.log(`${this.name}: its network namespace is not set up yet; setting it up before it boots`)
      await this.prepareNetwork()
    } else if (existsSync(containerPaths(this.ctx.root, this.name).netns)) {
      await teardownNetwork(this.ctx.root, this.name)
    }
  }

  /** Its network namespace, made once at a time (network/netns.ts prepareNetwork). */
  private prepareNetwork(): Promise<void> {
    const record = this.record
    this.networkSetup ??= prepareNetwork(this.ctx.root, record)
      .then(() => this.ctx.log(`${this.name}: network namespace up (${record.network}${record.address ? `, ${record.address} inside` : ''})`))
      .finally(() => {
        this.networkSetup = undefined
      })
    return this.networkSetup
  }

  private async killLeftovers(): Promise<void> {
    const {inits} = instancesOn(containerPaths(this.ctx.root, this.name).rootfs)
    if (inits.length > 0) {
      this.ctx.log(`${this.name}: its init ${inits.join(', ')} outlived nspawn; killing it`)
      await killInits(inits)
    }
    // Whatever is still in the container's cgroup once nspawn is gone is the container's too.
    const rest = containerCgroupDirs(this.ctx.root, this.name).flatMap(cgroupPids)
    if (rest.length > 0) {
      this.ctx.log(`${this.name}: ${rest.length} process(es) left in its cgroup after nspawn; killing them`)
      await killInits([...new Set(rest)])
    }
  }

  private afterExitDecided(decision: ReturnType<typeof afterExit>, code: number | null, signalName: NodeJS.Signals | null, output: string[]): void {
    if (!this.ctx.hostHasSystemd) this.removeCgroups(5)
    if (decision.next === 'boot') {
      this.quickReboots = decision.quickReboots
      this.rebootAfter(decision.delayMs)
      return
    }
    this.quickReboots = 0
    if (decision.next === 'watch' && decision.reason === 'reboot-loop') {
      this.history.lastStopReason = 'reboot-loop'
      this.history.lastError = rebootLoopMessage(decision.quickReboots ?? 0, this.ctx.rebootPolicy)
      this.ctx.log(`${this.name}: ${this.history.lastError}`)
      for (const s of this.sockets) dropQueued(s.fd)
      this.settle(false)
      return
    }
    if (decision.reason === 'boot-failed') {
      this.bootFailed(`systemd-nspawn ${describeExit(code, signalName)}${output.length ? `; its last output:\n${output.join('\n')}` : ''}`)
      return
    }
    this.history.lastStopReason = decision.reason
    if (decision.reason === 'crashed') this.history.lastError = `systemd-nspawn ${describeExit(code, signalName)}`
    // A stop that came while leftovers were being killed is honoured too.
    this.settle(decision.next === 'release' || (this.stopRequest !== undefined && !this.stopRequest.keepPorts))
  }

  /** Boots again after DELAY_MS; meanwhile the container counts as booting (nothing watches its sockets). */
  private rebootAfter(delayMs: number): void {
    if (delayMs === 0) {
      this.state = 'listening'
      void this.boot()
      return
    }
    this.state = 'booting'
    this.ctx.log(`${this.name}: quick reboot ${this.quickReboots} in a row; booting again in ${delayMs} ms`)
    this.rebootTimer = setTimeout(() => {
      this.rebootTimer = undefined
      if (this.retired) return
      this.state = 'listening'
      void this.boot()
    }, delayMs)
  }

  /** Live status; ROWS is one read of /proc/net/tcp{,6}, PARENTS one scan of /proc. */
  status(rows: readonly TcpRow[], parents: ReadonlyMap<number, number> | undefined): ContainerStatus {
    const ports = new Set(this.record.ports.map((e) => e.port))
    // Accepted ones, as the idle rule counts them (one still queued is no session).
    const connections = openConnections(ports, rows)
    const up = this.state === 'running' || this.state === 'booting' || this.state === 'stopping'
    const status: ContainerStatus = {
      name: this.name,
      distro: this.record.distro,
      release: this.record.release,
      profile: this.record.profile,
      state: this.state,
      ports: this.record.ports,
      connections,
      ...this.history,
      idleTimeoutSec: this.record.idleTimeoutSec,
      ...isolationOf(this.record),
    }
    if (up && this.pid !== undefined) {
      status.pid = this.pid
      if (this.bootStartedAt !== undefined) status.uptimeSec = Math.round((Date.now() - this.bootStartedAt) / 1000)
      // From its cgroups where it has its own (cgroups.ts); else the memory of its process tree.
      const usage = this.ctx.hostHasSystemd ? {} : cgroupUsage(this.ctx.root, this.name)
      if (usage.memoryBytes !== undefined) status.memoryBytes = usage.memoryBytes
      else if (parents) status.memoryBytes = residentBytes(processTree(this.pid, parents))
      if (usage.cpuUsec !== undefined) status.cpuSec = Math.round(usage.cpuUsec / 10_000) / 100
      if (usage.tasks !== undefined) status.tasks = usage.tasks
      if (this.state === 'running' && this.record.idleTimeoutSec > 0 && this.idleSince !== undefined) {
        status.idleRemainingSec = Math.max(0, Math.round(this.record.idleTimeoutSec - (Date.now() - this.idleSince) / 1000))
      }
    }
    return status
  }

  /**
   * The container's PID 1 as the host sees it, while it runs. Found by a scan of /proc once per
   * boot (the idle rules ask for it every quiet period of every running container).
   */
  leaderPid(): number | undefined {
    if (this.pid === undefined) return undefined
    if (this.leader?.nspawn === this.pid && processName(this.leader.pid) !== undefined) return this.leader.pid
    const pid = containerLeader(this.pid)
    this.leader = pid === undefined ? undefined : {nspawn: this.pid, pid}
    return pid
  }

  /** Resolves once the container runs (booted), or rejects with BOOT_FAILED. */
  async waitRunning(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      // Up once the container's PID 1 has exec'd its init: until then it is nspawn's own forked
      // child (comm "systemd-nspawn"), and an init that cannot be exec'd ends nspawn instead.
      const leader = this.leaderPid()
      if (this.pid !== undefined && leader !== undefined && processName(leader) !== 'systemd-nspawn') return
      if (this.state === 'listening' && this.history.lastStopReason === 'boot-failed') {
        throw new CtrError('BOOT_FAILED', `${this.name} failed to boot`, {hints: this.history.lastError ? [this.history.lastError] : []})
      }
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new CtrError('BOOT_FAILED', `${this.name} did not come up within ${Math.round(timeoutMs / 1000)} s`)
  }
}
