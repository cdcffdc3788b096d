/**
 * Runs an activator for one state root: the control socket (root only), one activator per root
 * (an flock held for life), and the held containers restored. `ctr activator` and the background
 * daemon both come here.
 */
import {chmodSync, closeSync, openSync, rmSync, writeSync, ftruncateSync} from 'node:fs'
import {createServer, type Server, type Socket} from 'node:net'
import {CtrError, isCtrError} from '../errors.js'
import {prepareRoot} from '../store/root.js'
import {LOCK_EX, LOCK_NB, flock} from '../sys/libc.js'
import {Activator, type ActivatorOptions} from './activator.js'
import {pidfdSupported} from './spawn-nspawn.js'
import {activatorLockFile, controlSocket, type Request, type Response} from './protocol.js'

export interface RunningActivator {
  activator: Activator
  /** Powers off running containers, closes the control socket and the held sockets. */
  close: () => Promise<void>
}

export async function startActivator(options: ActivatorOptions): Promise<RunningActivator> {
  const {root} = options
  const log = options.log ?? (() => {})
  // The root, images/, tmp/, containers/ and activator/ private (0700), an old root tightened.
  await prepareRoot(root)
  const lockFd = openSync(activatorLockFile(root), 'a+', 0o600)
  if (flock(lockFd, LOCK_EX | LOCK_NB) !== 0) {
    closeSync(lockFd)
    throw new CtrError('RUNNING', `an activator already runs for ${root}`, {hints: ['stop that one first, or talk to it: ctr ls']})
  }
  ftruncateSync(lockFd, 0)
  writeSync(lockFd, `${process.pid}\n`)

  // The wake path's FFI declared now rather than on the first connection.
  if (!pidfdSupported()) log('no pidfd_open on this kernel: nspawn is started with a fork of this process (slower)')
  const activator = new Activator({...options, log})
  const restored = await activator.restore()
  if (restored.length > 0) log(`holding again: ${restored.join(', ')}`)

  const path = controlSocket(root)
  // The lock says no other activator runs, so a socket file left here is stale.
  rmSync(path, {force: true})
  const server = createServer((socket) => serve(activator, socket, log))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(path, () => resolve())
  })
  chmodSync(path, 0o600)
  log(`activator ${process.pid} listening on ${path}`)

  let closed: Promise<void> | undefined
  const close = () =>
    (closed ??= (async () => {
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

function serve(activator: Activator, socket: Socket, log: (m: string) => void): void {
  let buffered = ''
  socket.setEncoding('utf8')
  socket.on('error', () => {})
  socket.on('data', (chunk: string) => {
    buffered += chunk
    const newline = buffered.indexOf('\n')
    if (newline < 0) return
    const line = buffered.slice(0, newline)
    socket.pause()
    void answer(activator, line).then((response) => {
      if (!response.ok) log(`request ${line.slice(0, 200)} failed: ${response.error.message}`)
      socket.end(`${JSON.stringify(response)}\n`)
    })
  })
}

async function answer(activator: Activator, line: string): Promise<Response> {
  try {
    const request = JSON.parse(line) as Request
    return {ok: true, result: await dispatch(activator, request)}
  } catch (error) {
    const e = isCtrError(error) ? error : new CtrError('COMMAND_FAILED', error instanceof Error ? error.message : String(error), {cause: error})
    return {ok: false, error: e.toJSON()}
  }
}

async function dispatch(activator: Activator, request: Request): Promise<unknown> {
  switch (request.op) {
    case 'ping':
      return {pid: process.pid, root: activator.root, rssBytes: process.memoryUsage.rss(), memory: process.memoryUsage()}
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
    case 'wake':
      return activator.wake(request.name)
    default:
      throw new CtrError('INVALID_ARGUMENT', `unknown request ${JSON.stringify((request as {op?: unknown}).op)}`)
  }
}
