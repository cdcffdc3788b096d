/**
 * Bench section services: the http (lighttpd) and mariadb services behind ctr's activator.
 *
 * 1. One container with ssh, http and mariadb on three loopback ports, against the same service
 *    in the same tree started by the seed's scheme with systemd's own tool, interleaved in one run:
 *    `systemd-socket-activate -l 127.0.0.1:P1 -l 127.0.0.1:P2 -l 127.0.0.1:P3 systemd-nspawn ...`
 *    (ctr's nspawn options, all the container's ports in the record's order, so that every socket
 *    unit in the tree gets its fd). Cold (the first connection to a sleeping container) and warm
 *    (the next ones while it runs): connect -> first byte of an HTTP response (a node net client),
 *    and the whole `mariadb -h127.0.0.1 -P PORT -uadmin -pPASS -N -e 'select 1'` command. Where a
 *    cold MariaDB connection's time goes is read from the container's journal (journalctl -D
 *    TREE/var/log/journal -o json): its __MONOTONIC_TIMESTAMP is the host's CLOCK_MONOTONIC (one
 *    kernel, no time namespace), the clock of process.hrtime here.
 * 2. A second container with the same three services, created and exposed once the first built
 *    the package layers: the wall time of createContainer and the three exposePort calls, and the
 *    new disk it takes.
 * 3. ab bursts at the http port of a container with a 1 s idle timeout, each fired once ctr reports
 *    it asleep again (listening, last stop idle): failures, latency percentiles, wake cycles.
 *
 * Targets printed beside the figures: HTTP cold and warm <= 1.05x the baseline; the second
 * container <= 3 s and <= 20 MB; the load run 0 failed or non-2xx over at least 10 wake cycles.
 * Sizes: CTR_BENCH_SERVICES_ROUNDS (cold rounds per side, 7), CTR_BENCH_SERVICES_CYCLES (10).
 */
import {spawn, execFile, type ChildProcess} from 'node:child_process'
import {closeSync, openSync, readdirSync, readFileSync} from 'node:fs'
import {readFile, rm} from 'node:fs/promises'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {activatorLog} from '../../src/activator/protocol.js'
import {nspawnEnv} from '../../src/activator/spawn-nspawn.js'
import {exposePort, type ExposeReport} from '../../src/containers/expose.js'
import {createContainer} from '../../src/containers/create.js'
import {failed, startContainers, stopContainers, type BatchReport} from '../../src/containers/lifecycle.js'
import {removeContainer} from '../../src/containers/remove.js'
import {updateContainer} from '../../src/containers/update.js'
import {run} from '../../src/exec.js'
import {hostHasSystemd, nspawnArgv} from '../../src/nspawn/argv.js'
import {diskUsage} from '../../src/rootfs/images.js'
import {mountRootfs} from '../../src/rootfs/mount.js'
import {getContainer, type Exposure} from '../../src/store/containers.js'
import {containerPaths, layout} from '../../src/store/paths.js'
import {canBind} from '../../src/sys/socket.js'
import {freePortRange, timeToFirstByte} from './activator.js'
import {errorText, HELD_MS, mb, statusOf, withActivator, type Log} from './held.js'
import {median} from './stats.js'

const WARM_PER_ROUND = 3
/** Time the container has to finish booting after the cold connection before warm ones are timed. */
const SETTLE_MS = 1000
const AB_REQUESTS = 200
const AB_CONCURRENCY = 10
const RATIO_TARGET = 1.05
const SECOND_SECONDS_TARGET = 3
const SECOND_BYTES_TARGET = 20e6
const NAME = 'bench-svc'
const SECOND = 'bench-svc2'

export interface Comparison {
  ctr: number[]
  baseline: number[]
  ctrMedian: number
  baselineMedian: number
  ratio: number
}

/**
 * Where a cold request's time went: ms from its start (the HTTP client's connect, the mariadb
 * command's start) to each mark. The marks come from the container's journal (monotonic stamps,
 * the host's clock), from /proc (process start times, in clock ticks of 10 ms), and for ctr from
 * the activator's log.
 */
export interface ColdBreakdown {
  /** ctr only: the activator spawned nspawn (its log: "nspawn spawned X ms after the connection"). */
  nspawnSpawnedMs?: number
  /** The container's systemd started: its "Startup finished in X" stamp minus X. */
  systemdStartMs?: number
  /** journald's "Journal started": what the journal got before, it stamped when it read it. */
  journalStartedMs?: number
  /** mariadbd was forked by the container's systemd (/proc/PID/stat starttime against the client's). */
  mariadbdForkMs?: number
  /** mariadbd: "ready for connections" (journal). */
  readyMs?: number
  /** systemd logged "Startup finished" (its boot transaction, the service's start included, done). */
  startupFinishedMs?: number
  /** The first response byte (HTTP), the command's exit with the result (MariaDB). */
  totalMs: number
  /** InnoDB recovered from a crash on this start (the poweroff before did not stop it cleanly). */
  crashRecovery: boolean
}

export type BreakdownMedians = {[K in Exclude<keyof ColdBreakdown, 'crashRecovery'>]?: number}

export interface LoadBurst {
  woke: boolean
  complete: number
  failed: number
  non2xx: number
  abExit: number | null
  p50Ms: number
  maxMs: number
  /** From ab's end to ctr reporting the container asleep again (listening, stopped for idle). */
  asleepAfterMs?: number
  error?: string
}

export interface ServicesBench {
  ports: {ssh: number; http: number; mariadb: number}
  layerSeconds: {http: number; mariadb: number}
  rounds: number
  http: {coldMs: Comparison; warmMs: Comparison; coldBreakdown: {ctr: ColdBreakdown[]; baseline: ColdBreakdown[]; ctrMedian: BreakdownMedians; baselineMedian: BreakdownMedians}}
  mariadb: {
    coldMs: Comparison
    warmMs: Comparison
    coldBreakdown: {ctr: ColdBreakdown[]; baseline: ColdBreakdown[]; ctrMedian: BreakdownMedians; baselineMedian: BreakdownMedians}
  }
  second: {
    seconds: number
    createSeconds: number
    exposeSeconds: number[]
    containerBytes: number
    imagesGrowthBytes: number
    newDiskBytes: number
    /** containers/NAME after its first boot and first select 1 (MariaDB's data copied up). */
    afterFirstSelectBytes?: number
  }
  load: {
    bursts: LoadBurst[]
    requests: number
    complete: number
    failed: number
    non2xx: number
    latencyMs: {p50: number; p90: number; p95: number; p99: number; max: number}
    wakeCycles: number
  }
  targets: {
    httpColdAtMost105: boolean
    httpWarmAtMost105: boolean
    secondWithin3s: boolean
    secondWithin20MB: boolean
    loadNoFailures: boolean
    loadTenWakeCycles: boolean
  }
}

/** ms from connect() to the first byte of the HTTP response to GET / (which must be a 200). */
export function httpFirstByte(port: number, host = '127.0.0.1', timeoutMs = 60_000): Promise<number> {
  return timeToFirstByte(port, timeoutMs, {host, send: 'GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n', expect: /^HTTP\/1\.[01] 200/, what: 'HTTP response'})
}

/** CLOCK_MONOTONIC in µs: the clock of the journal's __MONOTONIC_TIMESTAMP. */
const monoUs = () => process.hrtime.bigint() / 1000n

/** ppid, comm and start time (clock ticks since boot) of PID, from /proc/PID/stat. */
function procStat(pid: number): {ppid: number; comm: string; startTicks: number} | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // Fields 4 (ppid) and 22 (starttime); REST starts at field 3.
    return {ppid: Number(rest[1]), comm: stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')')), startTicks: Number(rest[19])}
  } catch {
    return undefined
  }
}

/** The start time (ticks) of the process named COMM below ANCESTOR (a container's nspawn). */
function descendantStart(ancestor: number, comm: string): number | undefined {
  const stats = new Map<number, NonNullable<ReturnType<typeof procStat>>>()
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = procStat(Number(entry))
    if (stat) stats.set(Number(entry), stat)
  }
  for (const [pid, stat] of stats) {
    if (stat.comm !== comm) continue
    let up: number | undefined = pid
    for (let depth = 0; up !== undefined && up > 1 && depth < 64; depth++) {
      if (up === ancestor) return stat.startTicks
      up = stats.get(up)?.ppid
    }
  }
  return undefined
}

/** Clock ticks a second, for /proc's start times. */
let ticksPerSecond = 100

/** ms from the client's start to mariadbd's, both in /proc start-time ticks. */
function forkMs(clientTicks: number | undefined, serverTicks: number | undefined): number | undefined {
  return clientTicks === undefined || serverTicks === undefined ? undefined : ((serverTicks - clientTicks) * 1000) / ticksPerSecond
}

/** The whole `mariadb ... -e 'select 1'` command: ms, when it started (CLOCK_MONOTONIC µs), its start in ticks. */
function selectOne(port: number, password: string, timeoutMs = 60_000): Promise<{ms: number; startedUs: bigint; startTicks?: number}> {
  return new Promise((resolve, reject) => {
    const startedUs = monoUs()
    const started = performance.now()
    const child = execFile('mariadb', ['-h127.0.0.1', `-P${port}`, '-uadmin', `-p${password}`, '-N', '-e', 'select 1'], {timeout: timeoutMs}, (error, stdout, stderr) => {
      const ms = performance.now() - started
      if (error) reject(new Error(`mariadb on port ${port}: ${stderr.trim() || error.message}`))
      else if (stdout.trim() !== '1') reject(new Error(`mariadb on port ${port} printed ${JSON.stringify(stdout.slice(0, 60))}`))
      else resolve({ms, startedUs, startTicks})
    })
    // Forked already (libuv's spawn returns after the exec), not reaped before its exit is read.
    const startTicks = child.pid === undefined ? undefined : procStat(child.pid)?.startTicks
  })
}

async function samples(count: number, one: () => Promise<number>): Promise<number[]> {
  await sleep(SETTLE_MS)
  const out: number[] = []
  for (let i = 0; i < count; i++) out.push(await one())
  return out
}

interface JournalEntry {
  MESSAGE?: unknown
  __MONOTONIC_TIMESTAMP?: string
}

/** "133ms", "1.234s", "1min 2.345s" (systemd's format_timespan) in ms. */
export function timespanMs(text: string): number | undefined {
  let total = 0
  let any = false
  for (const m of text.matchAll(/([\d.]+)\s*(min|ms|us|s)\b/g)) {
    any = true
    total += Number(m[1]) * {min: 60_000, s: 1000, ms: 1, us: 0.001}[m[2] as 'min' | 's' | 'ms' | 'us']
  }
  return any ? total : undefined
}

/**
 * The journal's marks of the boot that served a cold request started at STARTED_US
 * (CLOCK_MONOTONIC µs): entries of the tree's journal stamped between STARTED_US and UNTIL_US.
 */
async function journalMarks(tree: string, startedUs: bigint, untilUs: bigint, out: ColdBreakdown): Promise<ColdBreakdown> {
  // --since takes the wall clock: a second early, then the monotonic stamps decide.
  const sinceSec = Date.now() / 1000 - Number(monoUs() - startedUs) / 1e6 - 1
  const {stdout} = await run(['journalctl', '-D', join(tree, 'var/log/journal'), '--since', `@${sinceSec.toFixed(3)}`, '-o', 'json', '--output-fields=MESSAGE', '--no-pager'])
  for (const line of stdout.split('\n')) {
    let entry: JournalEntry
    try {
      entry = JSON.parse(line) as JournalEntry
    } catch {
      continue
    }
    if (typeof entry.MESSAGE !== 'string' || !entry.__MONOTONIC_TIMESTAMP) continue
    const us = BigInt(entry.__MONOTONIC_TIMESTAMP)
    if (us < startedUs || us > untilUs) continue
    const at = Number(us - startedUs) / 1000
    const message = entry.MESSAGE
    const finished = /^Startup finished in (.+)\.$/.exec(message)
    if (finished && out.startupFinishedMs === undefined) {
      out.startupFinishedMs = at
      const took = timespanMs(finished[1])
      if (took !== undefined) out.systemdStartMs = at - took
    }
    if (message === 'Journal started') out.journalStartedMs ??= at
    if (/mariadbd: ready for connections/.test(message)) out.readyMs ??= at
    if (/InnoDB: Starting crash recovery/.test(message)) out.crashRecovery = true
  }
  return out
}

/** The activator's last "NAME: booting (pid N, nspawn spawned X ms after the connection)". */
async function lastSpawnMs(root: string, name: string): Promise<number | undefined> {
  const text = await readFile(activatorLog(root), 'utf8').catch(() => '')
  const found = [...text.matchAll(/ (\S+): booting \(pid \d+, nspawn spawned ([\d.]+) ms after the connection\)/g)].filter((m) => m[1] === name)
  return found.length ? Number(found.at(-1)![2]) : undefined
}

function breakdownMedians(list: readonly ColdBreakdown[]): BreakdownMedians {
  const out: BreakdownMedians = {}
  for (const key of ['nspawnSpawnedMs', 'systemdStartMs', 'journalStartedMs', 'mariadbdForkMs', 'readyMs', 'startupFinishedMs', 'totalMs'] as const) {
    const values = list.map((b) => b[key]).filter((v): v is number => v !== undefined && Number.isFinite(v))
    if (values.length) out[key] = median(values)
  }
  return out
}

const at = (ms: number | undefined) => (ms === undefined ? '?' : ms.toFixed(0))

/** The medians as a time line: each mark at its ms after the start, the step since the one before in brackets. */
function describeBreakdown(m: BreakdownMedians, marks: ReadonlyArray<readonly [keyof BreakdownMedians, string]>): string {
  let before = 0
  return marks
    .filter(([key]) => m[key] !== undefined)
    .sort(([a], [b]) => m[a]! - m[b]!)
    .map(([key, label]) => {
      const ms = m[key]!
      const step = ms - before
      before = ms
      return `${label} ${at(ms)} (+${at(step)})`
    })
    .join(', ')
}

function comparison(ctr: number[], baseline: number[]): Comparison {
  const ctrMedian = median(ctr)
  const baselineMedian = median(baseline)
  return {ctr, baseline, ctrMedian, baselineMedian, ratio: ctrMedian / baselineMedian}
}

function checked(report: BatchReport, what: string): void {
  if (failed(report)) throw new Error(`${what}: ${report.items.map((i) => i.error?.message).filter(Boolean).join('; ')}`)
}

/** nearest-rank percentile of sorted VALUES */
function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

/** One container's cold and warm figures for one scheme (ctr or the baseline). */
interface SideRound {
  httpCold: number
  httpWarm: number[]
  dbCold: number
  dbWarm: number[]
  httpBreakdown: ColdBreakdown
  dbBreakdown: ColdBreakdown
}

/** systemd-socket-activate running (then exec'd into nspawn): its child, and when it exits. */
interface Baseline {
  child: ChildProcess
  exited: Promise<void>
}

export async function benchServices(root: string, log: Log): Promise<ServicesBench> {
  const rounds = Number(process.env.CTR_BENCH_SERVICES_ROUNDS ?? 7)
  ticksPerSecond = Number((await run(['getconf', 'CLK_TCK'])).stdout.trim()) || 100
  const cycles = Number(process.env.CTR_BENCH_SERVICES_CYCLES ?? 10)
  // Six free ports below the ephemeral range, from a random start: integration tests running on
  // this machine meanwhile take theirs from 20000-29999 too.
  const from = 21000 + 6 * Math.floor(Math.random() * 1400)
  const first = (() => {
    try {
      return freePortRange(from, 29999, 6)
    } catch {
      return freePortRange(21000, 29999, 6)
    }
  })()
  const ports = {ssh: first, http: first + 1, mariadb: first + 2}
  const second = {ssh: first + 3, http: first + 4, mariadb: first + 5}
  const created: string[] = []
  let baseline: Baseline | undefined

  const stopBaseline = async (): Promise<void> => {
    const b = baseline
    baseline = undefined
    if (!b || b.child.exitCode !== null || b.child.signalCode !== null) return
    // By now the process is nspawn (systemd-socket-activate execs it in place): SIGTERM is an orderly poweroff.
    b.child.kill('SIGTERM')
    let timer: NodeJS.Timeout | undefined
    const inTime = await Promise.race([b.exited.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), 60_000)))])
    clearTimeout(timer)
    if (!inTime) {
      b.child.kill('SIGKILL')
      await b.exited
    }
  }

  try {
    return await withActivator(root, [NAME, SECOND], log, async () => {
      try {
        return await body()
      } finally {
        // Before the activator lets the containers go and stops: a baseline nspawn on the tree goes first.
        await stopBaseline()
      }
    })
  } finally {
    await stopBaseline().catch((error: unknown) => log(`services: stopping the baseline failed: ${errorText(error)}`))
    // After the activator let them go and stopped (withActivator): nothing of them runs any more.
    for (const name of created) await removeContainer(root, name).catch((error: unknown) => log(`services: removing ${name} failed: ${errorText(error)}`))
  }

  async function body(): Promise<ServicesBench> {
    // 1. The container, its three services, and the package layers they need (built here).
    await createContainer(root, {distro: 'debian', name: NAME})
    created.push(NAME)
    const expose = async (name: string, port: number, service: string): Promise<{report: ExposeReport; seconds: number}> => {
      const started = performance.now()
      const report = await exposePort(root, {spec: `127.0.0.1:${port}`, service, container: name})
      return {report, seconds: (performance.now() - started) / 1000}
    }
    await expose(NAME, ports.ssh, 'ssh')
    const http = await expose(NAME, ports.http, 'http')
    const db = await expose(NAME, ports.mariadb, 'mariadb')
    const password = db.report.adminPassword
    if (!password) throw new Error('expose mariadb returned no admin password')
    const layerSeconds = {http: http.seconds, mariadb: db.seconds}
    log(`services: ${NAME} on 127.0.0.1:${ports.ssh}/ssh, :${ports.http}/http, :${ports.mariadb}/mariadb; expose http ${http.seconds.toFixed(1)} s (installed ${http.report.installed.join(', ') || 'nothing'}), mariadb ${db.seconds.toFixed(1)} s (installed ${db.report.installed.join(', ') || 'nothing'}; image ${db.report.image})`)

    const record = await getContainer(root, NAME)
    const tree = await mountRootfs(root, record)
    for (const e of record.ports) if (e.address !== '127.0.0.1') throw new Error(`${NAME} exposes ${e.port} on ${e.address ?? 'all addresses'}, not 127.0.0.1`)
    const listenArgs = record.ports.flatMap((e: Exposure) => ['-l', `${e.address}:${e.port}`])
    const nspawn = nspawnArgv({tree, machine: NAME, hostHasSystemd: hostHasSystemd()})
    const baselineConsole = join(root, 'services-baseline.console.log')
    log(`services: baseline: systemd-socket-activate ${listenArgs.join(' ')} ${nspawn.join(' ')}`)

    const startBaseline = async (): Promise<void> => {
      const out = openSync(baselineConsole, 'w', 0o600)
      let child: ChildProcess
      try {
        child = spawn('systemd-socket-activate', [...listenArgs, ...nspawn], {stdio: ['ignore', out, out], env: nspawnEnv()})
      } finally {
        closeSync(out)
      }
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
      child.once('error', () => {})
      baseline = {child, exited}
      // It binds every port before it waits; the first connection makes it exec nspawn.
      const deadline = Date.now() + 10_000
      while (record.ports.some((e) => canBind(e.port, e.address).ok)) {
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`systemd-socket-activate exited (${child.exitCode ?? child.signalCode}); see ${baselineConsole}`)
        if (Date.now() > deadline) throw new Error('systemd-socket-activate did not listen within 10 s')
        await sleep(5)
      }
      await sleep(HELD_MS)
    }

    // One side of a round: HTTP cold + warm, powered off (asleep again), MariaDB cold + warm, off.
    const ctrSide = async (): Promise<SideRound> => {
      checked(await startContainers(root, [NAME], {now: false}), 'ctr start')
      await sleep(HELD_MS)
      const httpStartUs = monoUs()
      const httpCold = await httpFirstByte(ports.http)
      const httpSpawn = await lastSpawnMs(root, NAME)
      const httpWarm = await samples(WARM_PER_ROUND, () => httpFirstByte(ports.http))
      const httpUntilUs = monoUs()
      checked(await stopContainers(root, [NAME], {keepPorts: true}), 'ctr stop --hold')
      const httpBreakdown = await journalMarks(tree, httpStartUs, httpUntilUs, {totalMs: httpCold, nspawnSpawnedMs: httpSpawn, crashRecovery: false})
      await sleep(HELD_MS)
      const cold = await selectOne(ports.mariadb, password)
      const dbSpawn = await lastSpawnMs(root, NAME)
      const nspawnPid = (await statusOf(root, NAME)).pid
      const mariadbd = nspawnPid === undefined ? undefined : descendantStart(nspawnPid, 'mariadbd')
      const dbWarm = await samples(WARM_PER_ROUND, async () => (await selectOne(ports.mariadb, password)).ms)
      const dbUntilUs = monoUs()
      // Released: the baseline binds the same ports next.
      checked(await stopContainers(root, [NAME], {keepPorts: false}), 'ctr stop')
      const dbBreakdown = await journalMarks(tree, cold.startedUs, dbUntilUs, {totalMs: cold.ms, nspawnSpawnedMs: dbSpawn, mariadbdForkMs: forkMs(cold.startTicks, mariadbd), crashRecovery: false})
      return {httpCold, httpWarm, dbCold: cold.ms, dbWarm, httpBreakdown, dbBreakdown}
    }
    const baselineSide = async (): Promise<SideRound> => {
      await startBaseline()
      const httpStartUs = monoUs()
      const httpCold = await httpFirstByte(ports.http)
      const httpWarm = await samples(WARM_PER_ROUND, () => httpFirstByte(ports.http))
      const httpUntilUs = monoUs()
      await stopBaseline()
      const httpBreakdown = await journalMarks(tree, httpStartUs, httpUntilUs, {totalMs: httpCold, crashRecovery: false})
      await startBaseline()
      const cold = await selectOne(ports.mariadb, password)
      // systemd-socket-activate exec'd nspawn in place: its pid is nspawn's.
      const nspawnPid = baseline?.child.pid
      const mariadbd = nspawnPid === undefined ? undefined : descendantStart(nspawnPid, 'mariadbd')
      const dbWarm = await samples(WARM_PER_ROUND, async () => (await selectOne(ports.mariadb, password)).ms)
      const dbUntilUs = monoUs()
      await stopBaseline()
      const dbBreakdown = await journalMarks(tree, cold.startedUs, dbUntilUs, {totalMs: cold.ms, mariadbdForkMs: forkMs(cold.startTicks, mariadbd), crashRecovery: false})
      return {httpCold, httpWarm, dbCold: cold.ms, dbWarm, httpBreakdown, dbBreakdown}
    }

    // One untimed round each, so that neither pays for a first boot (MariaDB's first start copies its data up).
    await ctrSide()
    await baselineSide()
    const all = {ctr: [] as SideRound[], baseline: [] as SideRound[]}
    for (let i = 0; i < rounds; i++) {
      const order = i % 2 === 0 ? (['ctr', 'baseline'] as const) : (['baseline', 'ctr'] as const)
      for (const who of order) all[who].push(who === 'ctr' ? await ctrSide() : await baselineSide())
      const [c, b] = [all.ctr[i], all.baseline[i]]
      log(
        `services: round ${i + 1} (${order.join(' first, ')} second): cold HTTP ctr ${c.httpCold.toFixed(0)} ms, baseline ${b.httpCold.toFixed(0)} ms; cold select 1 ctr ${c.dbCold.toFixed(0)} ms, baseline ${b.dbCold.toFixed(0)} ms; warm HTTP ${median(c.httpWarm).toFixed(2)} / ${median(b.httpWarm).toFixed(2)} ms, warm select 1 ${median(c.dbWarm).toFixed(1)} / ${median(b.dbWarm).toFixed(1)} ms`,
      )
    }
    const httpCold = comparison(all.ctr.map((r) => r.httpCold), all.baseline.map((r) => r.httpCold))
    const httpWarm = comparison(all.ctr.flatMap((r) => r.httpWarm), all.baseline.flatMap((r) => r.httpWarm))
    const dbCold = comparison(all.ctr.map((r) => r.dbCold), all.baseline.map((r) => r.dbCold))
    const dbWarm = comparison(all.ctr.flatMap((r) => r.dbWarm), all.baseline.flatMap((r) => r.dbWarm))
    const ratioLine = (what: string, c: Comparison, digits: number, target: boolean) =>
      `services: ${what}: median ${c.ctrMedian.toFixed(digits)} ms vs ${c.baselineMedian.toFixed(digits)} ms baseline (${c.ctr.length} / ${c.baseline.length} samples): ratio ${c.ratio.toFixed(3)}${target ? ` (target <= ${RATIO_TARGET}: ${c.ratio <= RATIO_TARGET ? 'met' : 'NOT met'})` : ' (no target)'}`
    log(ratioLine('HTTP cold (connect -> first response byte, container asleep)', httpCold, 0, true))
    log(ratioLine('HTTP warm (connect -> first response byte, container running)', httpWarm, 2, true))
    log(ratioLine("MariaDB cold (the whole `mariadb -e 'select 1'`, container asleep)", dbCold, 0, false))
    log(ratioLine("MariaDB warm (the whole `mariadb -e 'select 1'`, mariadbd running)", dbWarm, 1, false))
    const breakdowns = (pick: (r: SideRound) => ColdBreakdown) => {
      const ctr = all.ctr.map(pick)
      const baseline = all.baseline.map(pick)
      return {ctr, baseline, ctrMedian: breakdownMedians(ctr), baselineMedian: breakdownMedians(baseline)}
    }
    const httpBreakdown = breakdowns((r) => r.httpBreakdown)
    const dbBreakdown = breakdowns((r) => r.dbBreakdown)
    log(
      "services: where a cold request's time goes, ms after its start (medians; marks from the container's journal, journalctl -D TREE/var/log/journal -o json, whose monotonic stamps are the host's clock; mariadbd's fork from /proc/PID/stat start times, 10 ms ticks; nspawn's spawn from the activator's log). What the container logs before journald is up is stamped when journald reads it, so no journal mark is taken from before it.",
    )
    const httpMarks = [['nspawnSpawnedMs', 'nspawn spawned'], ['systemdStartMs', "container's systemd started"], ['journalStartedMs', 'journald up'], ['totalMs', 'first response byte'], ['startupFinishedMs', '"Startup finished"']] as const
    const dbMarks = [['nspawnSpawnedMs', 'nspawn spawned'], ['systemdStartMs', "container's systemd started"], ['mariadbdForkMs', 'mariadbd forked'], ['journalStartedMs', 'journald up'], ['readyMs', 'mariadbd "ready for connections"'], ['startupFinishedMs', '"Startup finished"'], ['totalMs', 'select 1 result']] as const
    log(`services:   HTTP cold, ctr:         ${describeBreakdown(httpBreakdown.ctrMedian, httpMarks)}`)
    log(`services:   HTTP cold, baseline:    ${describeBreakdown(httpBreakdown.baselineMedian, httpMarks)}`)
    log(`services:   MariaDB cold, ctr:      ${describeBreakdown(dbBreakdown.ctrMedian, dbMarks)}`)
    log(`services:   MariaDB cold, baseline: ${describeBreakdown(dbBreakdown.baselineMedian, dbMarks)}`)
    const recoveries = [...all.ctr, ...all.baseline].filter((r) => r.dbBreakdown.crashRecovery).length
    if (recoveries > 0) log(`services:   InnoDB ran crash recovery in ${recoveries} of ${2 * rounds} cold starts (the poweroff before did not stop mariadbd cleanly)`)

    // 2. A second container with the same services, its layers built already.
    const imagesBefore = await diskUsage(layout(root).images)
    const started = performance.now()
    await createContainer(root, {distro: 'debian', name: SECOND})
    created.push(SECOND)
    const createSeconds = (performance.now() - started) / 1000
    const exposes = [await expose(SECOND, second.ssh, 'ssh'), await expose(SECOND, second.http, 'http'), await expose(SECOND, second.mariadb, 'mariadb')]
    const seconds = (performance.now() - started) / 1000
    const containerBytes = await diskUsage(containerPaths(root, SECOND).dir)
    const imagesGrowthBytes = (await diskUsage(layout(root).images)) - imagesBefore
    const newDiskBytes = containerBytes + Math.max(0, imagesGrowthBytes)
    const secondPassword = exposes[2].report.adminPassword
    log(
      `services: second container ${SECOND} (ssh, http, mariadb; image ${exposes[2].report.image}): create + 3 exposes ${seconds.toFixed(2)} s (create ${createSeconds.toFixed(2)} s, exposes ${exposes.map((e) => e.seconds.toFixed(2)).join(' + ')} s) (target <= ${SECOND_SECONDS_TARGET} s: ${seconds <= SECOND_SECONDS_TARGET ? 'met' : 'NOT met'})`,
    )
    log(
      `services: second container's new disk ${mb(newDiskBytes)} (du -sxb containers/${SECOND} ${mb(containerBytes)}, images/ grew ${mb(imagesGrowthBytes)}) (target <= ${SECOND_BYTES_TARGET / 1e6} MB: ${newDiskBytes <= SECOND_BYTES_TARGET ? 'met' : 'NOT met'})`,
    )

    // 3. ab bursts across idle/wake cycles of the second container, with a 1 s idle timeout.
    await updateContainer(root, SECOND, {idleTimeoutSec: 1})
    checked(await startContainers(root, [SECOND], {now: false}), 'ctr start')
    const bursts: LoadBurst[] = []
    const latencies: number[] = []
    const gnuplot = join(root, 'services-ab.tsv')
    const asleep = async (wakes: number, timeoutMs = 60_000): Promise<boolean> => {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const s = await statusOf(root, SECOND)
        if (s.state === 'listening' && s.lastStopReason === 'idle' && s.wakes >= wakes) return true
        if (Date.now() > deadline) return false
        await sleep(20)
      }
    }
    await sleep(HELD_MS)
    for (let i = 0; i < cycles; i++) {
      const before = await statusOf(root, SECOND)
      if (before.state !== 'listening') log(`services: load burst ${i + 1}: ${SECOND} is ${before.state} before the burst`)
      const ab = await new Promise<{code: number | null; stdout: string; stderr: string}>((resolve) => {
        execFile('ab', ['-r', '-q', '-n', String(AB_REQUESTS), '-c', String(AB_CONCURRENCY), '-g', gnuplot, `http://127.0.0.1:${second.http}/`], {timeout: 120_000}, (error, stdout, stderr) =>
          resolve({code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr}),
        )
      })
      const abEnded = performance.now()
      const num = (re: RegExp) => Number(re.exec(ab.stdout)?.[1] ?? 0)
      const times = (await readFile(gnuplot, 'utf8').catch(() => ''))
        .split('\n')
        .slice(1)
        .map((l) => Number(l.split('\t')[4]))
        .filter((t) => Number.isFinite(t))
      await rm(gnuplot, {force: true})
      latencies.push(...times)
      const sorted = [...times].sort((a, b) => a - b)
      const after = await statusOf(root, SECOND)
      const burst: LoadBurst = {
        woke: after.wakes > before.wakes,
        complete: num(/Complete requests:\s+(\d+)/),
        failed: num(/Failed requests:\s+(\d+)/),
        non2xx: num(/Non-2xx responses:\s+(\d+)/),
        abExit: ab.code,
        p50Ms: percentile(sorted, 50),
        maxMs: sorted.at(-1) ?? NaN,
      }
      if (ab.code !== 0) burst.error = ab.stderr.trim().split('\n').slice(-2).join(' ')
      if (await asleep(before.wakes + 1)) burst.asleepAfterMs = performance.now() - abEnded
      else burst.error = [burst.error, `not asleep again (listening, idle) within 60 s: ${(await statusOf(root, SECOND)).state}`].filter(Boolean).join('; ')
      bursts.push(burst)
      log(
        `services: load burst ${i + 1}: ${burst.woke ? 'woke it' : 'NO wake'}, ${burst.complete} complete, ${burst.failed} failed, ${burst.non2xx} non-2xx, median ${burst.p50Ms} ms, slowest ${burst.maxMs} ms; asleep again ${burst.asleepAfterMs === undefined ? 'never' : `${burst.asleepAfterMs.toFixed(0)} ms`} after${burst.error ? `; ${burst.error}` : ''}`,
      )
    }
    const sortedAll = [...latencies].sort((a, b) => a - b)
    const sum = (f: (b: LoadBurst) => number) => bursts.reduce((a, b) => a + f(b), 0)
    const wakeCycles = bursts.filter((b) => b.woke && b.asleepAfterMs !== undefined).length
    const load = {
      bursts,
      requests: cycles * AB_REQUESTS,
      complete: sum((b) => b.complete),
      failed: sum((b) => b.failed),
      non2xx: sum((b) => b.non2xx),
      latencyMs: {p50: percentile(sortedAll, 50), p90: percentile(sortedAll, 90), p95: percentile(sortedAll, 95), p99: percentile(sortedAll, 99), max: sortedAll.at(-1) ?? NaN},
      wakeCycles,
    }
    const loadNoFailures = load.failed === 0 && load.non2xx === 0 && load.complete === load.requests && bursts.every((b) => b.abExit === 0)
    log(
      `services: load: ${cycles} bursts of ab -n ${AB_REQUESTS} -c ${AB_CONCURRENCY} at :${second.http} (idle timeout 1 s, each burst at a sleeping container): ${load.requests} requests, ${load.complete} complete, ${load.failed} failed, ${load.non2xx} non-2xx (target 0: ${loadNoFailures ? 'met' : 'NOT met'}); latency (ab -g, connect -> done) p50 ${load.latencyMs.p50} ms, p90 ${load.latencyMs.p90} ms, p95 ${load.latencyMs.p95} ms, p99 ${load.latencyMs.p99} ms, max ${load.latencyMs.max} ms; wake cycles observed ${wakeCycles} (target >= 10: ${wakeCycles >= 10 ? 'met' : 'NOT met'})`,
    )

    // What MariaDB's first start adds to the second container (its data copied up): for the record.
    let afterFirstSelectBytes: number | undefined
    if (secondPassword) {
      try {
        const wakes = (await statusOf(root, SECOND)).wakes
        await selectOne(second.mariadb, secondPassword)
        await asleep(wakes + 1)
        afterFirstSelectBytes = await diskUsage(containerPaths(root, SECOND).dir)
        log(`services: ${SECOND} after its first select 1 (MariaDB's files copied up into its own layer): du -sxb containers/${SECOND} ${mb(afterFirstSelectBytes)} (no target)`)
      } catch (error) {
        log(`services: ${SECOND}'s first select 1 failed: ${errorText(error)}`)
      }
    }

    return {
      ports,
      layerSeconds,
      rounds,
      http: {coldMs: httpCold, warmMs: httpWarm, coldBreakdown: httpBreakdown},
      mariadb: {coldMs: dbCold, warmMs: dbWarm, coldBreakdown: dbBreakdown},
      second: {seconds, createSeconds, exposeSeconds: exposes.map((e) => e.seconds), containerBytes, imagesGrowthBytes, newDiskBytes, afterFirstSelectBytes},
      load,
      targets: {
        httpColdAtMost105: httpCold.ratio <= RATIO_TARGET,
        httpWarmAtMost105: httpWarm.ratio <= RATIO_TARGET,
        secondWithin3s: seconds <= SECOND_SECONDS_TARGET,
        secondWithin20MB: newDiskBytes <= SECOND_BYTES_TARGET,
        loadNoFailures,
        loadTenWakeCycles: wakeCycles >= 10,
      },
    }
  }
}
