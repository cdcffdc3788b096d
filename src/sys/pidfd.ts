/**
 * Taking a copy of another process's file descriptor: pidfd_getfd(2), Linux 5.6. This is how an
 * activator that starts after another one died (or handed over) takes back the listening sockets
 * that the socket holder kept meanwhile: the same open sockets, so the port never closed and the
 * connections waiting in their backlog are still there. Needs ptrace rights over the holder, which
 * root has.
 */
import {errno, fn} from './libc.js'

const SYS_pidfd_open = 434
const SYS_pidfd_getfd = 438

export class PidfdError extends Error {
  constructor(
    readonly call: string,
    readonly errno: number,
  ) {
    super(`${call} failed: errno ${errno}`)
  }
}

function syscall(...args: unknown[]): number {
  return Number(fn('long syscall(long number, ...)')(...args))
}

export function pidfdOpenOf(pid: number): number {
  const fd = syscall(SYS_pidfd_open, 'int', pid, 'unsigned int', 0)
  if (fd < 0) throw new PidfdError(`pidfd_open(${pid})`, errno())
  return fd
}

/** A new fd (close-on-exec) in this process for fd TARGET of the process PIDFD refers to. */
export function pidfdGetfd(pidfd: number, target: number): number {
  const fd = syscall(SYS_pidfd_getfd, 'int', pidfd, 'int', target, 'unsigned int', 0)
  if (fd < 0) throw new PidfdError(`pidfd_getfd(${target})`, errno())
  return fd
}
