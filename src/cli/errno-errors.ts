/**
 * The last resort for a Node errno error that reached the CLI unhandled ("EISDIR: illegal
 * operation on a directory, rename '/tmp.part' -> '/tmp'"): one line saying what it means for the
 * path. Precise checks where the error can happen come first; this only keeps the promise of one
 * line with a hint when one is missing.
 */
import {CtrError, type ErrorCode} from '../errors.js'

type ErrnoLike = Error & {code?: unknown; path?: unknown; dest?: unknown; syscall?: unknown}

export function isErrnoError(error: unknown): error is ErrnoLike {
  return error instanceof Error && typeof (error as ErrnoLike).code === 'string' && /^E[A-Z0-9]+$/.test(String((error as ErrnoLike).code))
}

/**
 * The CtrError for ERROR in the command COMMAND ("images export"); IS_ROOT tells a permission
 * error of a non-root user (who needs root) from one of root (a file's own mode or a read-only
 * mount).
 */
export function errnoError(error: ErrnoLike, command: string, isRoot: boolean): CtrError {
  const code = String(error.code)
  const path = typeof error.path === 'string' ? error.path : undefined
  const dest = typeof error.dest === 'string' ? error.dest : undefined
  // A rename's target is where it failed for EISDIR/ENOTDIR; for the rest, the source.
  const target = (code === 'EISDIR' || code === 'ENOTDIR' || code === 'EEXIST') && dest ? dest : path
  const at = target ? `${target}: ` : ''
  const make = (c: ErrorCode, message: string, hints: string[] = []) => new CtrError(c, message, {hints, cause: error})
  switch (code) {
    case 'EACCES':
    case 'EPERM':
      if (!isRoot) return make('NOT_ROOT', `ctr ${command} needs root${target ? ` (${target}: permission denied)` : ''}`, ['run it as root, e.g. with sudo'])
      return make('COMMAND_FAILED', `${at}permission denied`)
    case 'ENOENT':
      return make('NOT_FOUND', `${at}no such file or directory`)
    case 'EISDIR':
      return make('INVALID_ARGUMENT', `${at}is a directory`, ['name a file, not a directory'])
    case 'ENOTDIR':
      return make('INVALID_ARGUMENT', `${at}a part of this path is not a directory`)
    case 'EEXIST':
      return make('EXISTS', `${at}exists already`)
    case 'ENOSPC':
    case 'EDQUOT':
      return make('NO_SPACE', `${at}the file system is full`, ['free some space (ctr images lists bases that can go) and run it again'])
    case 'EROFS':
      return make('COMMAND_FAILED', `${at}the file system is read-only`)
    case 'ELOOP':
      return make('UNSAFE_PATH', `${at}too many levels of symbolic links`)
    case 'EMFILE':
    case 'ENFILE':
      return make('COMMAND_FAILED', 'too many open files', ['raise the limit (ulimit -n) and run it again'])
    default:
      // Node's message is already one line: "EBUSY: resource busy or locked, rmdir 'X'".
      return make('COMMAND_FAILED', error.message.split('\n')[0])
  }
}
