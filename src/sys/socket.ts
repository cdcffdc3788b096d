/**
 * Listening TCP sockets the activator holds without ever accepting on them, and the poll(2) that
 * watches them. Node's net.Server cannot do this: libuv accepts as soon as a socket is readable,
 * and systemd's rules (DESIGN.md) need the connection left in the kernel's backlog for the
 * container's systemd to accept. So: libc socket/setsockopt/bind/listen/poll through koffi.
 *
 * Constants are Linux x86-64/aarch64 values (asm-generic), the only platforms nspawn runs on here.
 */
import {errno, fn} from './libc.js'

export const AF_INET = 2
export const AF_INET6 = 10
const SOCK_STREAM = 1
const SOCK_CLOEXEC = 0o2000000
const SOCK_NONBLOCK = 0o4000
const SOL_SOCKET = 1
const SO_REUSEADDR = 2
const IPPROTO_IPV6 = 41
const IPV6_V6ONLY = 26
export const POLLIN = 0x1
export const POLLERR = 0x8
export const POLLHUP = 0x10
export const POLLNVAL = 0x20
const EFD_CLOEXEC = 0o2000000
const EFD_NONBLOCK = 0o4000

export const EADDRINUSE = 98
export const EADDRNOTAVAIL = 99
export const EACCES = 13
export const EAGAIN = 11

/** A libc call failed; `errno` says why. */
export class SyscallError extends Error {
  constructor(
    readonly call: string,
    readonly errno: number,
  ) {
    super(`${call} failed: errno ${errno}`)
    this.name = 'SyscallError'
  }
}

const c = {
  socket: () => fn('int socket(int domain, int type, int protocol)'),
  setsockopt: () => fn('int setsockopt(int fd, int level, int name, const void *value, uint32_t len)'),
  bind: () => fn('int bind(int fd, const void *addr, uint32_t len)'),
  listen: () => fn('int listen(int fd, int backlog)'),
  close: () => fn('int close(int fd)'),
  poll: () => fn('int poll(void *fds, unsigned long nfds, int timeout)'),
  eventfd: () => fn('int eventfd(unsigned int initval, int flags)'),
  read: () => fn('long read(int fd, void *buf, unsigned long count)'),
  write: () => fn('long write(int fd, const void *buf, unsigned long count)'),
  accept4: () => fn('int accept4(int fd, void *addr, void *len, int flags)'),
  getsockname: () => fn('int getsockname(int fd, void *addr, _Inout_ uint32_t *len)'),
  getsockopt: () => fn('int getsockopt(int fd, int level, int name, void *value, _Inout_ uint32_t *len)'),
}

/** The bytes of an IPv4 or IPv6 address in text form, or undefined when it is neither. */
export function parseAddress(text: string): {family: typeof AF_INET | typeof AF_INET6; bytes: Buffer} | undefined {
  const v4 = parseIPv4(text)
  if (v4) return {family: AF_INET, bytes: v4}
  const v6 = parseIPv6(text)
  return v6 ? {family: AF_INET6, bytes: v6} : undefined
}

function parseIPv4(text: string): Buffer | undefined {
  const parts = text.split('.')
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined
  return Buffer.from(parts.map(Number))
}

function parseIPv6(text: string): Buffer | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(text) || text.split('::').length > 2) return undefined
  const groupsOf = (part: string): number[] | undefined => {
    if (part === '') return []
    const out: number[] = []
    const pieces = part.split(':')
    for (const [i, piece] of pieces.entries()) {
      if (i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseIPv4(piece)
        if (!v4) return undefined
        out.push(v4.readUInt16BE(0), v4.readUInt16BE(2))
      } else if (/^[0-9a-fA-F]{1,4}$/.test(piece)) {
        out.push(parseInt(piece, 16))
      } else {
        return undefined
      }
    }
    return out
  }
  const [head, tail] = text.split('::')
  const left = groupsOf(head)
  const right = tail === undefined ? [] : groupsOf(tail)
  if (!left || !right) return undefined
  const missing = 8 - left.length - right.length
  if (tail === undefined ? missing !== 0 : missing < 1) return undefined
  const groups = [...left, ...Array<number>(tail === undefined ? 0 : missing).fill(0), ...right]
  const bytes = Buffer.alloc(16)
  groups.forEach((g, i) => bytes.writeUInt16BE(g, i * 2))
  return bytes
}

/** struct sockaddr_in / sockaddr_in6 for ADDRESS:PORT. */
export function sockaddr(address: string, port: number): {family: number; buffer: Buffer} {
  const parsed = parseAddress(address)
  if (!parsed) throw new Error(`not an IP address: ${address}`)
  if (parsed.family === AF_INET) {
    const b = Buffer.alloc(16)
    b.writeUInt16LE(AF_INET, 0)
    b.writeUInt16BE(port, 2)
    parsed.bytes.copy(b, 4)
    return {family: AF_INET, buffer: b}
  }
  const b = Buffer.alloc(28)
  b.writeUInt16LE(AF_INET6, 0)
  b.writeUInt16BE(port, 2)
  parsed.bytes.copy(b, 8)
  return {family: AF_INET6, buffer: b}
}

function int32(value: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeInt32LE(value, 0)
  return b
}

/**
 * A listening TCP socket on ADDRESS:PORT (default `::`, dual-stack: systemd reads
 * `ListenStream=PORT` as `[::]:PORT` with IPv6-only off, and matches passed fds by family and
 * address, so an IPv4 socket would not match). Blocking (the flag is shared with the container,
 * whose services expect their usual mode); close-on-exec for our own copy only: spawn's dup2 to
 * fd 3.. clears the flag in the child.
 */
export function listenTcp(port: number, address = '::', backlog = 4096): number {
  const {family, buffer} = sockaddr(address, port)
  const fd = c.socket()(family, SOCK_STREAM | SOCK_CLOEXEC, 0) as number
  if (fd < 0) throw new SyscallError('socket', errno())
  try {
    check('setsockopt(SO_REUSEADDR)', c.setsockopt()(fd, SOL_SOCKET, SO_REUSEADDR, int32(1), 4) as number)
    if (family === AF_INET6) check('setsockopt(IPV6_V6ONLY)', c.setsockopt()(fd, IPPROTO_IPV6, IPV6_V6ONLY, int32(0), 4) as number)
    check('bind', c.bind()(fd, buffer, buffer.length) as number)
    check('listen', c.listen()(fd, backlog) as number)
    return fd
  } catch (error) {
    c.close()(fd)
    throw error
  }
}

/** Whether PORT on ADDRESS can be bound the way the activator binds it (nobody listens there). */
export function canBind(port: number, address = '::'): {ok: true} | {ok: false; errno: number} {
  const {family, buffer} = sockaddr(address, port)
  const fd = c.socket()(family, SOCK_STREAM | SOCK_CLOEXEC, 0) as number
  if (fd < 0) return {ok: false, errno: errno()}
  try {
    c.setsockopt()(fd, SOL_SOCKET, SO_REUSEADDR, int32(1), 4)
    if (family === AF_INET6) c.setsockopt()(fd, IPPROTO_IPV6, IPV6_V6ONLY, int32(0), 4)
    return (c.bind()(fd, buffer, buffer.length) as number) === 0 ? {ok: true} : {ok: false, errno: errno()}
  } finally {
    c.close()(fd)
  }
}

function check(call: string, result: number): void {
  if (result < 0) throw new SyscallError(call, errno())
}

const SO_ACCEPTCONN = 30

/**
 * The local port of FD when it is a listening TCP socket, else undefined: what a socket taken back
 * from another process (pidfd_getfd) is checked against before it is held again.
 */
export function listeningPort(fd: number): number | undefined {
  const flag = Buffer.alloc(4)
  const flagLength = [4]
  if ((c.getsockopt()(fd, SOL_SOCKET, SO_ACCEPTCONN, flag, flagLength) as number) !== 0 || flag.readInt32LE(0) !== 1) return undefined
  const address = Buffer.alloc(28)
  const length = [28]
  if ((c.getsockname()(fd, address, length) as number) !== 0) return undefined
  const family = address.readUInt16LE(0)
  return family === AF_INET || family === AF_INET6 ? address.readUInt16BE(2) : undefined
}

export function closeFd(fd: number): void {
  c.close()(fd)
}

/** struct pollfd[] for FDS, all watched for POLLIN. */
export function pollSet(fds: readonly number[]): Buffer {
  const b = Buffer.alloc(8 * fds.length)
  fds.forEach((fd, i) => {
    b.writeInt32LE(fd, i * 8)
    b.writeInt16LE(POLLIN, i * 8 + 4)
  })
  return b
}

/** revents of entry I of a pollSet() buffer. */
export function revents(set: Buffer, i: number): number {
  return set.readInt16LE(i * 8 + 6)
}

/**
 * poll(2) on a libuv pool thread. Each pending call holds one of the pool's threads, so the
 * activator makes exactly one such call at a time, over every watched fd.
 */
export function pollAsync(set: Buffer, timeoutMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    c.poll().async(set, set.length / 8, timeoutMs, (error: unknown, result: number) => (error ? reject(error) : resolve(result)))
  })
}

/** Whether FD is readable right now (for a listening socket: its accept queue is not empty). */
export function isReadable(fd: number): boolean {
  const set = pollSet([fd])
  return (c.poll()(set, 1, 0) as number) > 0 && (revents(set, 0) & POLLIN) !== 0
}

/** An eventfd that wakes a pending poll when written. */
export function makeEventFd(): number {
  const fd = c.eventfd()(0, EFD_CLOEXEC | EFD_NONBLOCK) as number
  if (fd < 0) throw new SyscallError('eventfd', errno())
  return fd
}

export function signalEventFd(fd: number): void {
  const one = Buffer.alloc(8)
  one.writeBigUInt64LE(1n)
  c.write()(fd, one, 8)
}

export function drainEventFd(fd: number): void {
  c.read()(fd, Buffer.alloc(8), 8)
}

/**
 * Accepts and closes every connection queued on a listening socket. Only for a container that
 * failed to boot: its clients are told at once (connection closed) instead of hanging, and the
 * socket stops being readable so that a new connection, not the stale one, triggers the next try.
 */
export function dropQueued(fd: number): number {
  let dropped = 0
  while (isReadable(fd)) {
    const conn = c.accept4()(fd, null, null, SOCK_CLOEXEC | SOCK_NONBLOCK) as number
    if (conn < 0) break
    c.close()(conn)
    dropped++
  }
  return dropped
}
