/**
 * openat2(2) (Linux 5.6+) through koffi: opens a path inside a directory the way a chroot would see
 * it. With RESOLVE_IN_ROOT the kernel resolves every component, symlinks included, as if the
 * directory were "/" (".." stops there, an absolute target starts there) in one atomic walk, so a
 * container that swaps a directory for a symlink cannot make ctr reach outside its tree. A loop
 * fails with ELOOP after 40 links, as any path lookup does.
 */
import {closeSync} from 'node:fs'
import {errno, fn} from './libc.js'

const SYS_openat2 = 437 // the same number on every architecture (asm-generic, since 5.6)
export const O_RDONLY = 0
export const O_DIRECTORY = 0o200000
export const O_NOFOLLOW = 0o400000
export const O_CLOEXEC = 0o2000000
export const O_PATH = 0o10000000
const RESOLVE_NO_MAGICLINKS = 0x02
const RESOLVE_IN_ROOT = 0x10

export const ENOENT = 2
export const ENOTDIR = 20
export const ELOOP = 40

/** The errno names ctr reports or acts on. */
const NAMES: Record<number, string> = {2: 'ENOENT', 13: 'EACCES', 17: 'EEXIST', 20: 'ENOTDIR', 21: 'EISDIR', 28: 'ENOSPC', 40: 'ELOOP', 36: 'ENAMETOOLONG', 38: 'ENOSYS'}

export class OpenError extends Error {
  constructor(
    readonly errno: number,
    readonly path: string,
  ) {
    super(`openat2 ${path}: ${NAMES[errno] ?? `errno ${errno}`}`)
  }
  /** As Node's fs errors: 'ENOENT', 'ELOOP', ... */
  get code(): string {
    return NAMES[this.errno] ?? `E${this.errno}`
  }
}

/**
 * Opens PATH (relative; a leading "/" means the root) beneath the directory fd ROOT as a chroot at
 * ROOT would; returns the new fd (close-on-exec). Magic links (/proc/PID/fd/N) are never followed.
 */
export function openInRoot(root: number, path: string, flags: number): number {
  const how = Buffer.alloc(24)
  how.writeBigUInt64LE(BigInt(flags | O_CLOEXEC), 0)
  how.writeBigUInt64LE(0n, 8)
  how.writeBigUInt64LE(BigInt(RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS), 16)
  const relative = path.replace(/^\/+/, '') || '.'
  const fd = Number(fn('long syscall(long number, ...)')(SYS_openat2, 'int', root, 'str', relative, 'void *', how, 'size_t', how.length))
  if (fd < 0) throw new OpenError(errno(), path)
  return fd
}

/** The directory DIR as an O_PATH fd to resolve beneath. */
export function openRoot(dir: string): number {
  const fd = Number(fn('int open(const char *path, int flags)')(dir, O_PATH | O_DIRECTORY | O_CLOEXEC))
  if (fd < 0) throw new OpenError(errno(), dir)
  return fd
}

/** Runs BODY with an fd that is closed afterwards, whatever happens. */
export function withFd<T>(fd: number, body: (fd: number) => T): T {
  let async = false
  try {
    const result = body(fd)
    if (result instanceof Promise) {
      async = true
      return result.finally(() => closeSync(fd)) as T
    }
    return result
  } finally {
    if (!async) closeSync(fd)
  }
}

/** A path naming what FD refers to, usable with Node's fs for one more component: /proc/self/fd/FD. */
export function fdPath(fd: number, name?: string): string {
  return name === undefined ? `/proc/self/fd/${fd}` : `/proc/self/fd/${fd}/${name}`
}
