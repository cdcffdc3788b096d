/**
 * libc calls Node does not offer, through koffi (FFI with prebuilt binaries in its npm package, so
 * nothing is compiled at install time). Loaded lazily: the CLI pays for it only when it needs it.
 */
import koffi from 'koffi'

let lib: ReturnType<typeof koffi.load> | undefined

export function libc(): ReturnType<typeof koffi.load> {
  lib ??= koffi.load('libc.so.6')
  return lib
}

const cache = new Map<string, koffi.KoffiFunction>()

/** A libc function by C prototype, declared once. */
export function fn(prototype: string): koffi.KoffiFunction {
  let f = cache.get(prototype)
  if (!f) {
    f = libc().func(prototype)
    cache.set(prototype, f)
  }
  return f
}

/** errno of the last failed call on this thread. */
export function errno(): number {
  return koffi.errno()
}

export const LOCK_EX = 2
export const LOCK_NB = 4
export const LOCK_UN = 8
export const EWOULDBLOCK = 11

export function flock(fd: number, operation: number): number {
  return fn('int flock(int fd, int operation)')(fd, operation) as number
}

const PR_SET_CHILD_SUBREAPER = 36

/**
 * Makes this process the reaper of its orphaned descendants (prctl(2)): the init of a container
 * whose nspawn was killed is re-parented here, where the activator can kill and reap it, instead of
 * to the host's PID 1 (which, on some hosts, never reaps).
 */
export function becomeSubreaper(): boolean {
  return (fn('int prctl(int option, unsigned long arg2, unsigned long arg3, unsigned long arg4, unsigned long arg5)')(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) as number) === 0
}
