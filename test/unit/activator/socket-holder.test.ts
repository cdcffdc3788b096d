/**
 * The socket holder with real sockets and a real holder process: sockets handed to it survive the
 * closing of every copy the "activator" (this test) has, keep listening (a connection made meanwhile
 * waits in the backlog), and are taken back with pidfd_getfd; a changed set makes a new holder and
 * stops the old one.
 */
import {mkdtemp, rm} from 'node:fs/promises'
import {connect} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterEach, describe, expect, it} from 'vitest'
import {processArgv, scanProcesses} from '../../../src/activator/proc.js'
import {SocketHolder, holderName, holdersIn, socketKey, takeBackSockets, type HeldSocketRef} from '../../../src/activator/socket-holder.js'
import {isAlive, signal} from '../../../src/sys/process.js'
import {canBind, closeFd, isReadable, listenTcp, listeningPort} from '../../../src/sys/socket.js'
import {freePort} from '../../helpers/ports.js'

const isRoot = process.getuid?.() === 0
let root: string | undefined
const fds: number[] = []

afterEach(async () => {
  for (const fd of fds.splice(0)) closeFd(fd)
  if (root) {
    for (const pid of holdersIn(scanProcesses(), root)) signal(pid, 'SIGKILL')
    await rm(root, {recursive: true, force: true})
  }
})

describe.skipIf(!isRoot && !process.env.CI)('socket holder', () => {
  it('keeps the ports listening with no activator, and gives the same sockets back', async () => {
    root = await mkdtemp(join(tmpdir(), 'ctr-holder-'))
    const ports = [freePort(33000)]
    ports.push(ports[0] + 1)
    const held: HeldSocketRef[] = ports.map((port) => ({key: socketKey(port), port, fd: listenTcp(port)}))
    const holder = new SocketHolder(root, () => held, () => {})
    holder.sync()
    await holder.synced()
    const [pid] = holdersIn(scanProcesses(), root)
    expect(processArgv(pid)?.[0]).toBe(holderName(root))

    // The activator goes away: its copies are closed. The ports stay bound and accept connections.
    for (const h of held) closeFd(h.fd)
    expect(canBind(ports[0]).ok).toBe(false)
    const client = connect(ports[0], '127.0.0.1')
    await new Promise<void>((resolve, reject) => client.once('connect', resolve).once('error', reject))

    // The next activator takes them back: the same socket, the connection waiting in it.
    const taken = await takeBackSockets(root)
    expect([...taken.keys()].sort()).toEqual(ports.map((p) => socketKey(p)).sort())
    for (const fd of taken.values()) fds.push(fd)
    const fd = taken.get(socketKey(ports[0]))!
    expect(listeningPort(fd)).toBe(ports[0])
    expect(isReadable(fd)).toBe(true)
    client.destroy()

    // A smaller set: a new holder with just that, and the old one stopped.
    const next = new SocketHolder(root, () => [{key: socketKey(ports[1]), port: ports[1], fd: taken.get(socketKey(ports[1]))!}], () => {})
    await next.adopt()
    next.sync()
    await next.synced()
    await sleep(50)
    expect(isAlive(pid) && processArgv(pid) !== undefined).toBe(false)
    const again = await takeBackSockets(root)
    expect([...again.keys()]).toEqual([socketKey(ports[1])])
    for (const f of again.values()) fds.push(f)
    await next.stop()
    expect(holdersIn(scanProcesses(), root)).toEqual([])
  })

  it('takes nothing back from a holder.json whose process is gone or is another one', async () => {
    root = await mkdtemp(join(tmpdir(), 'ctr-holder-'))
    expect((await takeBackSockets(root)).size).toBe(0)
  })
})
