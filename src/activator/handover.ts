/**
 * The new side of a planned replacement: asks the activator that runs to hand over, and copies the
 * sockets it holds out of it with pidfd_getfd(2), the same open sockets with their backlogs. The
 * connection stays open until done(): the old activator exits only then.
 */
import {connect, type Socket} from 'node:net'
import {CtrError, errnoCode} from '../errors.js'
import {pidfdGetfd, pidfdOpenOf} from '../sys/pidfd.js'
import {closeFd, listeningPort} from '../sys/socket.js'
import {controlSocket, type HandedOver, type Response} from './protocol.js'

export interface Handover {
  state: HandedOver
  /** Copies of the old activator's sockets, by key. */
  sockets: Map<string, number>
  /** Hangs up: the old activator lets go of its lock and exits. */
  done: () => void
}

/** undefined when no activator runs for ROOT (there is nothing to take over but held.json). */
export async function requestHandover(root: string, timeoutMs = 30_000): Promise<Handover | undefined> {
  const socket = connect(controlSocket(root))
  let line: string
  try {
    line = await firstLine(socket, timeoutMs)
  } catch (error) {
    socket.destroy()
    const code = errnoCode(error)
    if (code === 'ENOENT' || code === 'ECONNREFUSED') return undefined
    throw error
  }
  const response = JSON.parse(line) as Response<HandedOver>
  if (!response.ok) {
    socket.destroy()
    throw new CtrError(response.error.code, `the running activator would not hand over: ${response.error.message}`, {hints: response.error.hints})
  }
  const state = response.result
  const sockets = new Map<string, number>()
  const pidfd = pidfdOpenOf(state.pid)
  try {
    for (const [key, target] of Object.entries(state.sockets)) {
      const fd = pidfdGetfd(pidfd, target)
      if (listeningPort(fd) === Number(key.split('|')[1])) sockets.set(key, fd)
      else closeFd(fd)
    }
  } finally {
    closeFd(pidfd)
  }
  return {state, sockets, done: () => socket.end()}
}

function firstLine(socket: Socket, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = ''
    const timer = setTimeout(() => reject(new CtrError('ACTIVATOR_DOWN', `the running activator did not hand over within ${timeoutMs / 1000} s`)), timeoutMs)
    socket.setEncoding('utf8')
    socket.on('connect', () => socket.write(`${JSON.stringify({op: 'handover'})}\n`))
    socket.on('data', (chunk: string) => {
      data += chunk
      const newline = data.indexOf('\n')
      if (newline >= 0) {
        clearTimeout(timer)
        resolve(data.slice(0, newline))
      }
    })
    socket.on('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.on('end', () => {
      clearTimeout(timer)
      reject(new CtrError('ACTIVATOR_DOWN', 'the running activator hung up instead of handing over'))
    })
  })
}
