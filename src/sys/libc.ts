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
