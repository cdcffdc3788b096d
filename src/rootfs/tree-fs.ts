/**
 * Reading and writing a container tree without ever leaving it, even while its container runs and
 * changes it under ctr's feet. Paths are resolved as the container itself sees them (a chroot, or
 * systemd's chase() with a root prefix): an absolute symlink target is taken relative to the tree,
 * ".." stops at the tree's root. Every directory is reached by openat2(RESOLVE_IN_ROOT) from an fd
 * of the tree, in one walk done by the kernel, and every change is made to one name inside that
 * directory fd (/proc/self/fd/N/NAME) by a call that does not follow a final symlink (O_EXCL
 * create, rename, symlink, unlink) and a mode set on the open file (fchmod). So a directory swapped
 * for a symlink to the host (etc/systemd/system -> /etc/systemd/system) between two steps is never
 * followed out, and a symlink loop fails with ELOOP as the kernel's own lookups do.
 */
import {closeSync, fstatSync, readlinkSync} from 'node:fs'
import {lchown, mkdir, open, readdir, readFile, rename, rmdir, symlink, unlink} from 'node:fs/promises'
import {isUidBase} from './uid-ranges.js'
import {randomBytes} from 'node:crypto'
import {constants} from 'node:fs'
import {join, posix} from 'node:path'
import {CtrError, errnoCode} from '../errors.js'
import {O_DIRECTORY, O_NOFOLLOW, O_PATH, OpenError, fdPath, openInRoot, openRoot, withFd} from '../sys/openat2.js'

/** Files ctr reads from a tree are small configuration files; anything larger is refused. */
const MAX_READ_BYTES = 4 * 1024 * 1024

/** "/a/b/../c" -> ["a", "c"]: the components of an absolute path in the tree, lexically. */
function parts(path: string): string[] {
  return posix.resolve('/', path).split('/').filter(Boolean)
}

function unsafe(tree: string, path: string, error: unknown): never {
  if (error instanceof OpenError && error.code === 'ELOOP') {
    throw new CtrError('UNSAFE_PATH', `too many symbolic links resolving ${path} in ${tree} (ELOOP)`, {
      hints: ['the tree has a symlink loop; repair or recreate the container'],
    })
  }
  if (error instanceof OpenError && error.code === 'ENOTDIR') {
    throw new CtrError('UNSAFE_PATH', `${path} in ${tree} runs through something that is not a directory`, {hints: ['repair or recreate the container']})
  }
  throw error
}

/**
 * How far the tree's IDs are shifted on disk: the first UID of its range for an overlay container
 * with --private-users (rootfs/idmap.ts; its root directory is owned by that UID), else 0. What ctr
 * makes in such a tree is owned by the container's root (or the given owner) in its range, as
 * what the container makes itself is, and never by the host's root.
 */
function idShift(root: number): number {
  const uid = fstatSync(root).uid
  return isUidBase(uid) ? uid : 0
}

/** BODY with an O_PATH fd of the tree's root. */
function inTree<T>(tree: string, body: (root: number) => Promise<T>): Promise<T> {
  return withFd(openRoot(tree), body)
}

/**
 * An O_PATH fd of directory PATH inside the tree opened at ROOT; with CREATE, missing directories
 * are made on the way (mode MODE, as mkdir -p). ENOENT without CREATE.
 */
async function openDir(root: number, tree: string, path: string, create?: {mode: number}): Promise<number> {
  const names = parts(path)
  try {
    return openInRoot(root, names.join('/'), O_PATH | O_DIRECTORY)
  } catch (error) {
    if (!(create && error instanceof OpenError && error.code === 'ENOENT')) unsafe(tree, path, error)
  }
  // Walk down from the deepest directory that exists, making one component at a time inside it.
  let fd = openInRoot(root, '', O_PATH | O_DIRECTORY)
  for (let i = 0; i < names.length; i++) {
    let next: number
    try {
      next = openInRoot(root, names.slice(0, i + 1).join('/'), O_PATH | O_DIRECTORY)
    } catch (error) {
      if (!(error instanceof OpenError && error.code === 'ENOENT')) {
        closeQuietly(fd)
        unsafe(tree, path, error)
      }
      try {
        await mkdir(fdPath(fd, names[i]), {mode: create!.mode})
        const shift = idShift(root)
        if (shift) await lchown(fdPath(fd, names[i]), shift, shift)
        next = openInRoot(fd, names[i], O_PATH | O_DIRECTORY | O_NOFOLLOW)
      } catch (inner) {
        closeQuietly(fd)
        // EEXIST: the name is there but leads nowhere (a symlink to a missing directory).
        if (errnoCode(inner) === 'EEXIST' || (inner instanceof OpenError && inner.code !== 'ENOENT')) {
          throw new CtrError('UNSAFE_PATH', `cannot make ${path} in ${tree}: /${names.slice(0, i + 1).join('/')} is not a directory`, {
            hints: ['repair or recreate the container'],
          })
        }
        throw inner
      }
    }
    closeQuietly(fd)
    fd = next
  }
  return fd
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd)
  } catch {}
}

/** Runs BODY with the fd of PATH's parent directory (made if CREATE), PATH's last name and the tree's idShift. */
async function inParent<T>(tree: string, path: string, create: {mode: number} | undefined, body: (dir: number, name: string, shift: number) => Promise<T>): Promise<T> {
  const names = parts(path)
  const name = names.pop()
  if (name === undefined) throw new CtrError('UNSAFE_PATH', `refusing to change the root of ${tree}`)
  return inTree(tree, async (root) => withFd(await openDir(root, tree, names.join('/'), create), (dir) => body(dir, name, idShift(root))))
}

/** Host path of PATH inside TREE with every component but the last resolved inside TREE. For trees no container runs on (a staging tree); writes go through the functions below. */
export async function resolveInTree(tree: string, path: string): Promise<string> {
  const names = parts(path)
  const name = names.pop()
  return inTree(tree, async (root) => {
    const dir = await openDir(root, tree, names.join('/'))
    const host = withFd(dir, () => readlinkSync(fdPath(dir)))
    return name === undefined ? host : join(host, name)
  })
}

/** mkdir -p inside the tree; returns the host path of the directory. */
export async function mkdirInTree(tree: string, path: string, mode = 0o755): Promise<string> {
  return inTree(tree, async (root) => {
    const dir = await openDir(root, tree, path, {mode})
    return withFd(dir, () => readlinkSync(fdPath(dir)))
  })
}

/** Writes a file inside the tree: a new temp file (O_EXCL, never through a link), fchmod, rename over the old one. */
export async function writeInTree(tree: string, path: string, data: string | Buffer, mode = 0o644, owner?: {uid: number; gid: number}): Promise<void> {
  await inParent(tree, path, {mode: 0o755}, async (dir, name, shift) => {
    const tmp = `.${name}.ctr-${randomBytes(4).toString('hex')}`
    const handle = await open(fdPath(dir, tmp), constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode)
    try {
      try {
        await handle.writeFile(data)
        if (owner || shift) await handle.chown((owner?.uid ?? 0) + shift, (owner?.gid ?? 0) + shift)
        await handle.chmod(mode)
      } finally {
        await handle.close()
      }
      await rename(fdPath(dir, tmp), fdPath(dir, name))
    } catch (error) {
      await unlink(fdPath(dir, tmp)).catch(() => {})
      throw error
    }
  })
}

/** Reads a regular file inside the tree (following links inside it), or undefined when there is none. */
export async function readInTree(tree: string, path: string): Promise<string | undefined> {
  return inTree(tree, async (root) => {
    let fd: number
    try {
      fd = openInRoot(root, parts(path).join('/'), O_PATH)
    } catch (error) {
      if (error instanceof OpenError && error.code === 'ENOENT') return undefined
      return unsafe(tree, path, error)
    }
    return withFd(fd, async () => {
      const info = fstatSync(fd)
      // A fifo would block the read forever, a device or a huge file would fill memory.
      if (!info.isFile()) throw new CtrError('UNSAFE_PATH', `${path} in ${tree} is not a regular file`, {hints: ['repair or recreate the container']})
      if (info.size > MAX_READ_BYTES) throw new CtrError('UNSAFE_PATH', `${path} in ${tree} is too large (${info.size} bytes)`, {hints: ['repair or recreate the container']})
      return readFile(fdPath(fd), 'utf8')
    })
  })
}

/** The names in directory PATH inside the tree ([] when there is none). */
export async function listInTree(tree: string, path: string): Promise<string[]> {
  return inTree(tree, async (root) => {
    let dir: number
    try {
      dir = await openDir(root, tree, path)
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') return []
      throw error
    }
    return withFd(dir, () => readdir(fdPath(dir)))
  })
}

/** Creates or replaces the symlink PATH -> TARGET inside the tree (as `systemctl enable` and `mask` do). */
export async function symlinkInTree(tree: string, path: string, target: string): Promise<void> {
  await inParent(tree, path, {mode: 0o755}, async (dir, name, shift) => {
    const tmp = `.${name}.ctr-${randomBytes(4).toString('hex')}`
    await symlink(target, fdPath(dir, tmp))
    try {
      if (shift) await lchown(fdPath(dir, tmp), shift, shift)
      await rename(fdPath(dir, tmp), fdPath(dir, name))
    } catch (error) {
      await unlink(fdPath(dir, tmp)).catch(() => {})
      throw error
    }
  })
}

/** Removes PATH inside the tree (the link itself, never what it points to; a directory with all it holds). */
export async function removeInTree(tree: string, path: string): Promise<void> {
  try {
    await inParent(tree, path, undefined, (dir, name) => removeAt(dir, name))
  } catch (error) {
    if (errnoCode(error) !== 'ENOENT') throw error
  }
}

/** unlink DIR/NAME, or, for a directory, empty it by fds (never a path through it) and rmdir it. */
async function removeAt(dir: number, name: string): Promise<void> {
  try {
    await unlink(fdPath(dir, name))
    return
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return
    if (errnoCode(error) !== 'EISDIR' && errnoCode(error) !== 'EPERM') throw error
  }
  const sub = openInRoot(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW)
  await withFd(sub, async () => {
    for (const child of await readdir(fdPath(sub))) await removeAt(sub, child)
  })
  await rmdir(fdPath(dir, name))
}
