/**
 * How commands talk to the activator: one JSON line over its control socket, one line back; and
 * starting it in the background (detached, log under the state root) when it is not running. An
 * activator that died holding containers (held.json says so) is started again by the next command
 * that talks to it, and one of an older build is replaced by this build's (a takeover: nothing is
 * closed or powered off).
 */
import {spawn} from 'node:child_process'
import {existsSync, mkdirSync, openSync, closeSync, readFileSync, statSync} from 'node:fs'
import {connect} from 'node:net'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {setTimeout as sleep} from 'node:timers/promises'
import {CtrError, errnoCode} from '../errors.js'
import {debug, isDebug} from '../log.js'
import {layout} from '../store/paths.js'
import {lowerPriority, terminate} from '../sys/process.js'
import {activatorDied} from './held-file.js'
import {activatorLog, controlSocket, type Answerer, type BuildId, type Request, type Response, type Results} from './protocol.js'

/**
 * One request to ROOT's activator. If none runs but the last one died holding containers, one is
 * started first (it takes the sockets back from the socket holder and the running containers over),
 * so that a command after a crash sees the truth and the ports are served again. An answer from an
 * activator of an older build (an upgrade of ctr) is followed by a takeover by this build's.
 */
export async function callActivator<R extends Request>(root: string, request: R, timeoutMs = 180_000): Promise<Results[R['op']]> {
  let response: Response<Results[R['op']]>
  try {
    response = await exchange(root, request, timeoutMs)
  } catch (error) {
    if (!(error instanceof CtrError && error.code === 'ACTIVATOR_DOWN') || request.op === 'ping' || !(await activatorDied(root))) throw error
    debug(`the activator of ${root} died holding containers; starting one`)
    await ensureActivator(root)
    return requestOnce(root, request, timeoutMs)
  }
  if (request.op !== 'ping' && request.op !== 'handover' && (await replaceIfOlder(root, response.from)) && unknownRequest(response)) {
    // An older build did not know this request (one newer than it, as pause): this build's activator, which does, is asked.
    return requestOnce(root, request, timeoutMs)
  }
  return resultOf(response)
}

function unknownRequest(response: Response<unknown>): boolean {
  return !response.ok && response.error.code === 'INVALID_ARGUMENT' && response.error.message.startsWith('unknown request')
}

/**
 * Replaces the activator that answered by this build's when it runs an older build (an upgrade of
 * ctr). Activators from before answers said who gave them are asked with a ping. The answer is in
 * hand: a takeover that fails leaves the older activator running, and says so.
 */
async function replaceIfOlder(root: string, from: Answerer | undefined): Promise<boolean> {
  const answerer = from ?? (await requestOnce(root, {op: 'ping'}, 5000).catch(() => undefined))
  if (!answerer || !isOlderBuild(answerer.build, ownBuild())) return false
  debug(`the activator ${answerer.pid} runs an older build (${answerer.build?.entry}); taking over`)
  return replaceActivator(root, answerer.pid, answerer.unit).then(
    () => true,
    (error: unknown) => {
      process.stderr.write(`ctr: warning: the activator ${answerer.pid} runs an older build and could not be replaced: ${error instanceof Error ? error.message : String(error)}\n`)
      return false
    },
  )
}

async function requestOnce<R extends Request>(root: string, request: R, timeoutMs: number): Promise<Results[R['op']]> {
  return resultOf(await exchange(root, request, timeoutMs))
}

function resultOf<T>(response: Response<T>): T {
  if (!response.ok) throw new CtrError(response.error.code, response.error.message, {hints: response.error.hints})
  return response.result
}

/** One request line out, one response line back. */
async function exchange<R extends Request>(root: string, request: R, timeoutMs: number): Promise<Response<Results[R['op']]>> {
  const path = controlSocket(root)
  const line = await new Promise<string>((resolve, reject) => {
    const socket = connect(path)
    let data = ''
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new CtrError('ACTIVATOR_DOWN', `the activator did not answer ${request.op} within ${Math.round(timeoutMs / 1000)} s`))
    }, timeoutMs)
    socket.setEncoding('utf8')
    socket.on('connect', () => socket.write(`${JSON.stringify(request)}\n`))
    socket.on('data', (chunk: string) => (data += chunk))
    socket.on('end', () => {
      clearTimeout(timer)
      resolve(data)
    })
    socket.on('error', (error) => {
      clearTimeout(timer)
      const code = errnoCode(error)
      if (code === 'EACCES') reject(new CtrError('NOT_ROOT', 'only root may talk to the activator', {hints: ['run ctr as root']}))
      else if (code === 'ENOENT' || code === 'ECONNREFUSED') reject(activatorDown(root))
      else reject(new CtrError('ACTIVATOR_DOWN', `cannot talk to the activator: ${error.message}`, {cause: error}))
    })
  })
  try {
    return JSON.parse(line) as Response<Results[R['op']]>
  } catch {
    throw new CtrError('ACTIVATOR_DOWN', 'the activator closed the connection without an answer', {
      hints: [`see its log: ${activatorLog(root)}`],
    })
  }
}

function activatorDown(root: string): CtrError {
  return new CtrError('ACTIVATOR_DOWN', 'the activator is not running', {hints: ['ctr start NAME starts it, or run it in the foreground: ctr activator']})
}

export async function activatorRunning(root: string): Promise<boolean> {
  try {
    await requestOnce(root, {op: 'ping'}, 5000)
    return true
  } catch (error) {
    if (error instanceof CtrError && error.code === 'ACTIVATOR_DOWN') return false
    throw error
  }
}

/** The daemon's entry: beside this module when built, else the build's copy (tests run sources). */
export function daemonEntry(): string {
  if (process.env.CTR_ACTIVATOR_ENTRY) return process.env.CTR_ACTIVATOR_ENTRY
  const here = dirname(fileURLToPath(import.meta.url))
  const beside = join(here, 'daemon.js')
  if (existsSync(beside)) return beside
  const built = join(here, '..', '..', 'dist', 'src', 'activator', 'daemon.js')
  if (existsSync(built)) return built
  throw new CtrError('ACTIVATOR_DOWN', 'the activator is not built', {hints: ['npm run build']})
}

/**
 * Node flags of the daemon, which holds sockets, not data, for as long as the host runs: a small
 * young generation, and no JIT (about 6 MB less code and compiler memory; the activator's own
 * JavaScript runs a few times per connection, and a boot is spent in nspawn, not here; no WebAssembly,
 * which --jitless would otherwise warn about). With them,
 * 1000 held ports cost about 55 MB in all (`npm run bench`).
 */
export const DAEMON_NODE_FLAGS = ['--max-semi-space-size=1', '--jitless', '--no-expose-wasm']

/** argv (after node) of the activator process for ROOT. */
export function daemonArgs(root: string, debugOn = isDebug()): string[] {
  return [...DAEMON_NODE_FLAGS, daemonEntry(), '--root', root, ...(debugOn ? ['--debug'] : [])]
}

/** The build this ctr would start: its daemon.js, and when it was built. */
export function ownBuild(): BuildId {
  const entry = daemonEntry()
  return {entry, mtimeMs: statSync(entry).mtimeMs}
}

/** THEIRS is an older build than OURS (built earlier, elsewhere or here): ours replaces it. */
export function isOlderBuild(theirs: BuildId | undefined, ours: BuildId): boolean {
  return theirs !== undefined && (theirs.entry !== ours.entry || theirs.mtimeMs !== ours.mtimeMs) && theirs.mtimeMs < ours.mtimeMs
}

/**
 * Starts the activator in the background unless it runs; resolves once it answers. One of an older
 * build of ctr is replaced by this build's, by a takeover (nothing closed, nothing powered off).
 */
export async function ensureActivator(root: string): Promise<{started: boolean; pid: number}> {
  let running: Results['ping'] | undefined
  try {
    running = await requestOnce(root, {op: 'ping'}, 5000)
  } catch (error) {
    if (!(error instanceof CtrError && error.code === 'ACTIVATOR_DOWN')) throw error
  }
  if (running && !isOlderBuild(running.build, ownBuild())) return {started: false, pid: running.pid}
  if (!running) return startDaemon(root, {})
  debug(`the activator ${running.pid} runs an older build (${running.build?.entry}); taking over`)
  return replaceActivator(root, running.pid, running.unit)
}

/**
 * A new activator in place of REPLACES: a takeover by one this ctr starts, or, when it runs as a
 * systemd service (UNIT), `systemctl restart UNIT`, so that the new one is that service again and
 * not a process beside it (which the unit would not know, restart or stop). A restart closes no
 * held port (systemd-unit.ts). Resolves once the new one answers.
 */
async function replaceActivator(root: string, replaces: number, unit: string | undefined): Promise<{started: boolean; pid: number}> {
  if (!unit) return startDaemon(root, {takeover: true, replaces})
  const {run} = await import('../exec.js')
  await run(['systemctl', 'restart', unit], {timeoutMs: 120_000})
  for (let waited = 0; waited < 30_000; waited += 50) {
    const pid = await requestOnce(root, {op: 'ping'}, 1000).then((r) => r.pid, () => undefined)
    if (pid !== undefined && pid !== replaces) return {started: true, pid}
    await new Promise((r) => setTimeout(r, 50))
  }
  throw new CtrError('ACTIVATOR_DOWN', `systemctl restart ${unit} started no activator that answers within 30 s`, {hints: [`see: systemctl status ${unit}`]})
}

/**
 * ctr activator --restart: a new activator takes over from the one that runs (or starts, if none
 * does); every held socket and running container is handed over, none closed or powered off.
 */
export async function restartActivator(root: string): Promise<{pid: number; replaced?: number}> {
  let running: Results['ping'] | undefined
  try {
    running = await requestOnce(root, {op: 'ping'}, 5000)
  } catch (error) {
    if (!(error instanceof CtrError && error.code === 'ACTIVATOR_DOWN')) throw error
  }
  const {pid} = running ? await replaceActivator(root, running.pid, running.unit) : await startDaemon(root, {})
  return {pid, replaced: running?.pid}
}

/** Spawns the daemon detached, logging to ROOT/activator/activator.log; resolves when it answers. */
async function startDaemon(root: string, options: {takeover?: boolean; replaces?: number}): Promise<{started: boolean; pid: number}> {
  mkdirSync(layout(root).activatorDir, {recursive: true, mode: 0o700})
  const logPath = activatorLog(root)
  const logFd = openSync(logPath, 'a', 0o600)
  const args = [...daemonArgs(root), ...(options.takeover ? ['--takeover'] : [])]
  debug(`+ ${process.execPath} ${args.join(' ')} >>${logPath} &`)
  const child = spawn(process.execPath, args, {detached: true, stdio: ['ignore', logFd, logFd], cwd: '/'})
  closeSync(logFd)
  // A takeover's node starts up while the old activator still serves: at a lower priority, it
  // leaves the two cores to the containers meanwhile; it takes normal priority once it holds all.
  if (options.takeover && child.pid !== undefined) lowerPriority(child.pid)
  let exited: number | null | undefined
  child.once('exit', (code) => (exited = code))
  child.unref()
  const deadline = Date.now() + 15_000
  while (Date.now() < deadline) {
    await sleep(20)
    const ping = await requestOnce(root, {op: 'ping'}, 5000).catch(() => undefined)
    // During a takeover the old one answers until the new one has the lock.
    if (ping && ping.pid !== options.replaces) return {started: ping.pid === child.pid, pid: ping.pid}
    if (exited !== undefined && !ping) {
      throw new CtrError('ACTIVATOR_DOWN', `the activator exited at once (exit ${exited})`, {hints: [`its log says:\n${logTail(logPath)}`]})
    }
  }
  throw new CtrError('ACTIVATOR_DOWN', 'the activator did not come up within 15 s', {hints: [`see its log: ${logPath}`]})
}

export interface ActivatorStopReport {
  /** The activator's pid, when one was running. */
  pid?: number
  /** Containers that were running and were powered off by it. */
  poweredOff: string[]
}

/**
 * Stops the activator of ROOT by its pid (from its own answer to ping): SIGTERM, on which it powers
 * off the running containers in order and exits; the ports stay recorded as held, so the next
 * activator holds them again. SIGKILL only if it is still there after GRACE_MS (its orphans are
 * powered off by the next one).
 */
export async function stopActivator(root: string, graceMs = 120_000): Promise<ActivatorStopReport> {
  let pid: number
  try {
    pid = (await requestOnce(root, {op: 'ping'}, 5000)).pid
  } catch (error) {
    if (error instanceof CtrError && error.code === 'ACTIVATOR_DOWN') return {poweredOff: []}
    throw error
  }
  const status = await requestOnce(root, {op: 'status'}, 180_000).catch(() => undefined)
  const poweredOff = (status?.containers ?? []).filter((c) => c.state === 'booting' || c.state === 'running' || c.state === 'stopping').map((c) => c.name)
  await terminate([pid], graceMs)
  return {pid, poweredOff}
}

function logTail(path: string): string {
  try {
    return readFileSync(path, 'utf8').trimEnd().split('\n').slice(-5).join('\n')
  } catch {
    return '(no log)'
  }
}
