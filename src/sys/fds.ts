/**
 * File descriptors a long-lived process must not keep by accident. Whoever starts a process may
 * leave fds open across exec (Node's spawn closes nothing it was not told about): a daemon that
 * keeps the write end of its parent's pipe makes whoever reads that pipe wait for it forever.
 */
import {readdirSync} from 'node:fs'
import {fn} from './libc.js'

const F_GETFD = 1
const FD_CLOEXEC = 1

/**
 * Closes every fd above 2 that is not close-on-exec. Everything Node and libuv open is
 * close-on-exec, so what is left was inherited. Call it first thing, before opening anything.
 */
export function closeInheritedFds(): number[] {
  const fcntl = fn('int fcntl(int fd, int cmd, ...)')
  const close = fn('int close(int fd)')
  const closed: number[] = []
  for (const entry of readdirSync('/proc/self/fd')) {
    const fd = Number(entry)
    if (!Number.isInteger(fd) || fd <= 2) continue
    const flags = fcntl(fd, F_GETFD) as number
    if (flags >= 0 && (flags & FD_CLOEXEC) === 0) {
      close(fd)
      closed.push(fd)
    }
  }
  return closed
}
