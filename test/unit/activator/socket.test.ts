import {connect} from 'node:net'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterEach, describe, expect, it} from 'vitest'
import {AF_INET, AF_INET6, EADDRINUSE, canBind, closeFd, dropQueued, isReadable, listenTcp, parseAddress, sockaddr} from '../../../src/sys/socket.js'

describe('addresses', () => {
  it('parses IPv4 and IPv6 text into bytes', () => {
    expect(parseAddress('127.0.0.1')).toEqual({family: AF_INET, bytes: Buffer.from([127, 0, 0, 1])})
    expect(parseAddress('::')?.bytes).toEqual(Buffer.alloc(16))
    expect(parseAddress('::1')?.bytes).toEqual(Buffer.from([...Array(15).fill(0), 1]))
    expect(parseAddress('fe80::1:2')?.bytes.toString('hex')).toBe('fe800000000000000000000000010002')
    expect(parseAddress('::ffff:10.0.0.1')?.bytes.toString('hex')).toBe('00000000000000000000ffff0a000001')
    expect(parseAddress('2001:db8:0:0:0:0:0:1')?.family).toBe(AF_INET6)
  })

  it('rejects what is not an address', () => {
    for (const bad of ['', 'localhost', '256.0.0.1', '1.2.3', '1::2::3', '12345::', '1:2:3:4:5:6:7:8:9', ':::']) {
      expect(parseAddress(bad), bad).toBeUndefined()
    }
  })

  it('lays out sockaddr_in6 with the port in network order', () => {
    const {family, buffer} = sockaddr('::', 2222)
    expect(family).toBe(AF_INET6)
    expect(buffer.length).toBe(28)
    expect(buffer.readUInt16LE(0)).toBe(AF_INET6)
    expect(buffer.readUInt16BE(2)).toBe(2222)
    expect(sockaddr('10.1.2.3', 80).buffer.toString('hex')).toBe('0200005' + '00a010203' + '0000000000000000')
  })
})

describe('held sockets (real sockets on a free port)', () => {
  const fds: number[] = []
  afterEach(() => {
    for (const fd of fds.splice(0)) closeFd(fd)
  })

  const freePort = () => 20000 + Math.floor(Math.random() * 9000)

  it('listens dual-stack on ::, reachable over IPv4 and IPv6, and queues without accepting', async () => {
    let port = freePort()
    while (!canBind(port).ok) port = freePort()
    const fd = listenTcp(port)
    fds.push(fd)
    expect(isReadable(fd)).toBe(false)
    const v4 = connect(port, '127.0.0.1')
    const v6 = connect(port, '::1')
    await Promise.all([v4, v6].map((s) => new Promise((r) => s.once('connect', r))))
    // Both handshakes completed in the kernel; nobody accepted them.
    expect(isReadable(fd)).toBe(true)
    const closed = new Promise((r) => v4.once('close', r))
    v4.on('error', () => {})
    v6.on('error', () => {})
    expect(dropQueued(fd)).toBe(2)
    expect(isReadable(fd)).toBe(false)
    await closed
    v6.destroy()
  })

  it('says a port another socket listens on is busy', () => {
    let port = freePort()
    while (!canBind(port).ok) port = freePort()
    fds.push(listenTcp(port, '127.0.0.1'))
    expect(canBind(port)).toEqual({ok: false, errno: EADDRINUSE})
    expect(() => listenTcp(port)).toThrow(/errno 98/)
  })

  it('binds a given IPv4 address as given', async () => {
    let port = freePort()
    while (!canBind(port).ok) port = freePort()
    const fd = listenTcp(port, '127.0.0.1')
    fds.push(fd)
    const s = connect(port, '127.0.0.1')
    await new Promise((r) => s.once('connect', r))
    await sleep(10)
    expect(isReadable(fd)).toBe(true)
    s.destroy()
  })
})
