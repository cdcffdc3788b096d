/**
 * Writing into a container tree without ever leaving it. Paths are resolved the way the
 * container itself would see them (like chroot, or systemd's chase() with a root prefix): an
 * absolute symlink target is taken relative to the tree, ".." stops at the tree's root. So an /etc
 * that is a symlink to the host's /etc points at TREE/etc, and a loop fails instead of escaping.
 */
import {lstat, mkdir, readFile, readlink, rename, rm, symlink, writeFile, chmod} from 'node:fs/promises'
import {basename, join, posix} from 'node:path'
import {CtrError, errnoCode} from '../errors.js'

const MAX_LINKS = 40

/** Host path of PATH inside TREE with every symlink but the last component resolved inside TREE. */
export async function resolveInTree(tree: string, path: string): Promise<string> {
  const parent = await resolveDirInTree(tree, posix.dirname(posix.resolve('/', path)))
  return join(parent, posix.basename(posix.resolve('/', path)))
}

async function resolveDirInTree(tree: string, path: string): Promise<string> {
  const todo = path.split('/').filter(Boolean)
  const done: string[] = []
  let links = 0
  while (todo.length > 0) {
    const part = todo.shift()!
    if (part === '.') continue
    if (part === '..') {
      done.pop()
      continue
    }
    const host = join(tree, ...done, part)
    let isLink = false
    try {
      isLink = (await lstat(host)).isSymbolicLink()
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT') throw error
    }
    if (!isLink) {
      done.push(part)
      continue
    }
    if (++links > MAX_LINKS) {
      throw new CtrError('UNSAFE_PATH', `too many symbolic links resolving ${path} in ${tree}`, {
        hints: ['the tree has a symlink loop; repair or recreate the container'],
      })
    }
    const target = await readlink(host)
    if (target.startsWith('/')) done.length = 0
    todo.unshift(...target.split('/').filter(Boolean))
  }
  return join(tree, ...done)
}

/** mkdir -p inside the tree; returns the host path of the directory. */
export async function mkdirInTree(tree: string, path: string, mode = 0o755): Promise<string> {
  const host = await resolveDirInTree(tree, posix.resolve('/', path))
  await mkdir(host, {recursive: true, mode})
  return host
}

/** Writes a file inside the tree: temp file plus rename, which replaces a symlink instead of following it. */
export async function writeInTree(tree: string, path: string, data: string | Buffer, mode = 0o644): Promise<void> {
  const dir = await mkdirInTree(tree, posix.dirname(posix.resolve('/', path)))
  const name = posix.basename(path)
  const tmp = join(dir, `.${name}.ctr-tmp`)
  await rm(tmp, {force: true})
  await writeFile(tmp, data, {mode, flag: 'wx'})
  await chmod(tmp, mode)
  await rename(tmp, join(dir, name))
}

/** Reads a file inside the tree, or undefined when it does not exist. */
export async function readInTree(tree: string, path: string): Promise<string | undefined> {
  try {
    const host = await resolveInTree(tree, path)
    const info = await lstat(host)
    if (info.isSymbolicLink()) return readInTree(tree, posix.resolve(posix.dirname(path), await readlink(host)))
    return await readFile(host, 'utf8')
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return undefined
    throw error
  }
}

/** Creates or replaces the symlink PATH -> TARGET inside the tree (as `systemctl enable` and `mask` do). */
export async function symlinkInTree(tree: string, path: string, target: string): Promise<void> {
  const dir = await mkdirInTree(tree, posix.dirname(posix.resolve('/', path)))
  const tmp = join(dir, `.${basename(path)}.ctr-tmp`)
  await rm(tmp, {force: true})
  await symlink(target, tmp)
  await rename(tmp, join(dir, basename(path)))
}

/** Removes PATH inside the tree (the link itself, never what it points to). */
export async function removeInTree(tree: string, path: string): Promise<void> {
  await rm(await resolveInTree(tree, path), {force: true, recursive: true})
}

