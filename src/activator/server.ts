/**
 * Runs an activator for one state root: the control socket (root only), one activator per root
 * (an flock held for life), and the held containers taken over from the last activator. `ctr
 * activator` and the background daemon both come here.
 *
 * A planned replacement (ctr activator --restart, a newer build) overlaps the two processes so that
 * no socket goes unwatched for more than a moment: the new one, loaded and ready, asks the old one
 * to hand over; the old one stops watching and answers with its state and its socket fds; the new
 * one copies the fds (pidfd_getfd), watches them, and hangs up; only then does the old one let go
 * of the lock and exit, leaving its containers running for the new one.
 */
import {chmodSync, closeSync, openSync, rmSync, writeSync, ftruncateSync} from 'node:fs'
import {createServer, type Server, type Socket} from 'node:net'
import {setTimeout as sleep} from 'node:timers/promises'
import {CtrError, isCtrError} from '../errors.js'
import {prepareRoot} from '../store/root.js'
import {LOCK_EX, LOCK_NB, flock} from '../sys/libc.js'
import {normalPriority} from '../sys/process.js'
import {Activator, type ActivatorOptions} from './activator.js'
import {requestHandover} from './handover.js'
import {pidfdSupported} from './spawn-nspawn.js'
import {activatorLockFile, controlSocket, type BuildId, type Request, type Response} from './protocol.js'
import {ownUnit} from './systemd-unit.js'

export interface RunningActivator {
  activator: Activator
  /** Powers off running containers, closes the control socket and the held sockets. */
  close: () => Promise<void>
}

export interface ServerOptions extends ActivatorOptions {
  /** Take over from the activator that runs now, if one does (a planned restart or an upgrade). */
  takeover?: boolean
  /** What ping reports, so that a newer ctr knows to replace this one. */
  build?: BuildId
  /** Called once this activator has handed everything to a new one (the daemon exits then). */
  onHandedOver?: () => void
}

/** How long a takeover waits for the old activator to let go of the lock. */
const LOCK_WAIT_MS = 15_000

export async function startActivator(options: ServerOptions): Promise<RunningActivator> {
  const {root} = options
  const log = options.log ?? (() => {})
  // The root, images/, tmp/, containers/ and activator/ private (0700), an old root tightened.
  await prepareRoot(root)
  // The wake path's FFI declared now rather than on the first connection.
  if (!pidfdSupported()) log('no pidfd_open on this kernel: nspawn is started with a fork of this process (slower)')
  const activator = new Activator({...options, log})

  // A takeover started at nice 10 (client.ts), not to slow the containers while the old activator
  // serves; from the handover on, nothing watches the ports until this one does.
  if (options.takeover) normalPriority()
  const asked = performance.now()
  const handover = options.takeover ? await requestHandover(root) : undefined
  let restoring: Promise<string[]> | undefined
  if (handover) {
    // Watching again before anything else: every moment until then, connections wait in the backlog.
    const began = performance.now()
    restoring = activator.restore({state: handover.state, sockets: handover.sockets})
    const restored = await restoring
    handover.done()
    // The old one stopped watching when it got the request: what a connection may have waited.
    const unwatched = Math.round(performance.now() - asked)
    log(`took over from activator ${handover.state.pid}: ${restored.length} container(s) held again in ${Math.round(performance.now() - began)} ms; ports unwatched for at most ${unwatched} ms`)
  }
  const lockFd = openSync(activatorLockFile(root), 'a+', 0o600)
  const deadline = Date.now() + (handover ? LOCK_WAIT_MS : 0)
  while (flock(lockFd, LOCK_EX | LOCK_NB) !== 0) {
    if (Date.now() >= deadline) {
      closeSync(lockFd)
      throw new CtrError('RUNNING', `an activator already runs for ${root}`, {hints: ['stop that one first, or talk to it: ctr ls', 'or replace it: ctr activator --restart']})
    }
    await sleep(2)
  }
  ftruncateSync(lockFd, 0)
  writeSync(lockFd, `${process.pid}\n`)

  // The control socket answers at once; requests about containers wait until they are held again.
  const path = controlSocket(root)
  // The lock says no other activator runs, so a socket file left here is stale.
  rmSync(path, {force: true})
  let handedOver = false
  const server: Server = createServer((socket) =>
    serve(activator, socket, log, options.build, () => {
      // The new activator has copied the sockets: let go, and leave the containers running to it.
      handedOver = true
      server.close()
      closeSync(lockFd)
      log(`handed over to a new activator; ${process.pid} exits, its containers run on`)
      options.onHandedOver?.()
    }),
  )
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => resolve())
  })
  chmodSync(path, 0o600)
  log(`activator ${process.pid} listening on ${path}`)
  if (!restoring) {
    const began = performance.now()
    const restored = await activator.restore()
    if (restored.length > 0) log(`${restored.length} container(s) held again in ${Math.round(performance.now() - began)} ms: ${restored.slice(0, 20).join(', ')}${restored.length > 20 ? ', ...' : ''}`)
  }

  let closed: Promise<void> | undefined
  const close = () =>
    (closed ??= (async () => {
      if (handedOver) return
      await closeServer(server)
      await activator.shutdown()
      rmSync(path, {force: true})
      closeSync(lockFd)
      log('activator stopped')
    })())
  return {activator, close}
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()))
}

function serve(activator: Activator, socket: Socket, log: (m: string) => void, build: BuildId | undefined, onHandedOver: () => void): void {
  let buffered = ''
  socket.setEncoding('utf8')
  socket.on('error', () => {})
  socket.on('data', (chunk: string) => {
    buffered += chunk
    const newline = buffered.indexOf('\n')
    if (newline < 0) return
    const line = buffered.slice(0, newline)
    socket.pause()
    void answer(activator, line, build).then((response) => {
      if (!response.ok) log(`request ${line.slice(0, 200)} failed: ${response.error.message}`)
      if (response.ok && (JSON.parse(line) as Request).op === 'handover') {
        // Open until the new activator hangs up: it copies the sockets from this process meanwhile.
        socket.write(`${JSON.stringify(response)}\n`)
        const finish = () => {
          clearTimeout(timer)
          onHandedOver()
        }
        const timer = setTimeout(() => socket.destroy(), 10_000)
        socket.once('close', finish)
        socket.resume()
        return
      }
      socket.end(`${JSON.stringify(response)}\n`)
    })
  })
}

/** {unit} when this activator is a systemd service's (asked once). */
let unitAnswer: {unit?: string} | undefined
function unitOf(): {unit?: string} {
  if (!unitAnswer) {
    const unit = ownUnit()
    unitAnswer = unit ? {unit} : {}
  }
  return unitAnswer
}

async function answer(activator: Activator, line: string, build: BuildId | undefined): Promise<Response> {
  try {
    const request = JSON.parse(line) as Request
    return {ok: true, result: await dispatch(activator, request, build), from: {pid: process.pid, build, ...unitOf()}}
  } catch (error) {
    const e = isCtrError(error) ? error : new CtrError('COMMAND_FAILED', error instanceof Error ? error.message : String(error), {cause: error})
    return {ok: false, error: e.toJSON(), from: {pid: process.pid, build, ...unitOf()}}
  }
}

async function dispatch(activator: Activator, request: Request, build: BuildId | undefined): Promise<unknown> {
  switch (request.op) {
    case 'ping':
      return {pid: process.pid, root: activator.root, rssBytes: process.memoryUsage.rss(), memory: process.memoryUsage(), ...(build ? {build} : {}), ...unitOf()}
    case 'status':
      return activator.status()
    case 'start':
      return activator.start(request.name, {now: request.now})
    case 'stop':
      return activator.stop(request.name, {keepPorts: request.keepPorts})
    case 'forget':
      await activator.forget(request.name)
      return null
    case 'refresh':
      return activator.refresh(request.name)
    case 'pause':
      return activator.pause(request.name, request.ports)
    case 'wake':
      return activator.wake(request.name)
    case 'handover':
      return activator.handover()
    default:
      throw new CtrError('INVALID_ARGUMENT', `unknown request ${JSON.stringify((request as {op?: unknown}).op)}`)
  }
}
