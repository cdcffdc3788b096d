/**
 * A file a command is told to write (-o FILE), checked before any work starts: a directory, or a
 * path whose directory does not exist, is refused in one line (it failed at the end of an export
 * as "EISDIR: illegal operation on a directory, rename '/tmp.part' -> '/tmp'").
 */
import {stat} from 'node:fs/promises'
import {basename, dirname, join, resolve} from 'node:path'
import {CtrError} from '../errors.js'

/** Resolves when PATH can be a new or replaced file; SUGGESTED is a file name to offer for a directory. */
export async function checkOutputFile(path: string, options: {flag: string; suggested: string; retry: (file: string) => string}): Promise<void> {
  const target = await stat(path).catch(() => undefined)
  if (target?.isDirectory()) {
    throw new CtrError('INVALID_ARGUMENT', `${options.flag} ${path} is a directory; it takes a file name`, {
      hints: [`e.g. ${options.retry(join(path, options.suggested))}`],
    })
  }
  const dir = dirname(resolve(path))
  const parent = await stat(dir).catch(() => undefined)
  if (!parent) {
    throw new CtrError('INVALID_ARGUMENT', `${options.flag} ${path}: the directory ${dir} does not exist`, {
      hints: [`create it first (mkdir -p ${dir}), or write elsewhere: ${options.retry(basename(path))}`],
    })
  }
  if (!parent.isDirectory()) throw new CtrError('INVALID_ARGUMENT', `${options.flag} ${path}: ${dir} is not a directory`)
}
