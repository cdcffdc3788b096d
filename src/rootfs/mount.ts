/**
 * A container's tree: an overlay of the cached base (lower, read-only, shared) and the
 * container's own upper dir, mounted at containers/NAME/rootfs; or a plain copy there (--copy).
 */
import {lstat, mkdir, readFile} from 'node:fs/promises'
import {CtrError, errnoCode} from '../errors.js'
import {run} from '../exec.js'
import type {ContainerRecord} from '../store/containers.js'
import {containerPaths} from '../store/paths.js'
import {lowerTrees} from './images.js'
import {alignUpper, mountIdmappedLowers} from './idmap.js'
import {idmapsLowers} from './uid-ranges.js'
import {join} from 'node:path'

export async function isMountPoint(path: string): Promise<boolean> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8')
  // Field 5 is the mount point, with spaces and the like escaped as octal (\040).
  return mountinfo.split('\n').some((line) => unescapeMountPath(line.split(' ')[4] ?? '') === path)
}

function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))
}

/** LOWERS top first, as overlayfs takes them (a package layer above its base). */
export function overlayMountArgv(lowers: readonly string[], upper: string, work: string, target: string): string[] {
  return ['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${lowers.join(':')},upperdir=${upper},workdir=${work}`, target]
}

/**
 * Makes sure the container's tree is in place (mounts the overlay if needed); returns its path.
 * Never makes the container's own directory: one that is gone was removed (ctr rm hides it first),
 * and making it again, with an empty upper dir, would boot a bare base in the removed one's place.
 * A directory that has a tree but no record any more is refused too: it is not a container.
 */
export async function mountRootfs(root: string, record: Pick<ContainerRecord, 'name' | 'image' | 'storage' | 'privateUsers' | 'uidBase'>): Promise<string> {
  const paths = containerPaths(root, record.name)
  if (record.storage === 'copy') {
    await requireContainer(paths, record.name)
    return paths.rootfs
  }
  if (await isMountPoint(paths.rootfs)) return paths.rootfs
  await requireContainer(paths, record.name)
  for (const dir of [paths.upper, paths.work, paths.rootfs]) {
    try {
      // Not recursive: if the container's directory went away meanwhile, this fails (ENOENT).
      await mkdir(dir)
    } catch (error) {
      if (errnoCode(error) === 'ENOENT') throw gone(record.name)
      if (errnoCode(error) !== 'EEXIST') throw error
    }
  }
  const lowers = await lowerTrees(root, record.image)
  // --private-users: the upper stored shifted into the range, the lowers seen so (idmap.ts).
  const base = idmapsLowers(record) ? record.uidBase : undefined
  await alignUpper(paths.upper, base)
  await unmountLowers(paths.dir)
  const stacked = base === undefined ? lowers : await mountIdmappedLowers(paths.dir, lowers, base)
  await run(overlayMountArgv(stacked, paths.upper, paths.work, paths.rootfs))
  return paths.rootfs
}

/** The idmapped lowers of an overlay that is not mounted any more (or never was). */
async function unmountLowers(dir: string): Promise<void> {
  for (const point of await mountsUnder(join(dir, 'lowers'))) await run(['umount', point])
}

/**
 * The container's directory is there, and it has its record or is being made: create makes the
 * directory, then the overlay (here), then writes the record last, so a directory with no record
 * and no upper dir yet is a create in progress, while one with an upper dir but no record is a
 * removal or debris.
 */
async function requireContainer(paths: ReturnType<typeof containerPaths>, name: string): Promise<void> {
  const dir = await lstat(paths.dir).catch(() => undefined)
  if (!dir?.isDirectory()) throw gone(name)
  if (await exists(paths.record)) return
  if (await exists(paths.upper)) throw gone(name)
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  )
}

function gone(name: string): CtrError {
  return new CtrError('NOT_FOUND', `${name} has no record any more (removed?): not mounting its tree`, {hints: ['see what there is: ctr ls']})
}

export async function unmountRootfs(root: string, name: string): Promise<void> {
  const {rootfs, dir} = containerPaths(root, name)
  if (await isMountPoint(rootfs)) await run(['umount', rootfs])
  await unmountLowers(dir)
}

/** Every mount point at or below PATH, deepest first (for unmounting what a bootstrap left). */
export async function mountsUnder(path: string): Promise<string[]> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8')
  return mountinfo
    .split('\n')
    .map((line) => unescapeMountPath(line.split(' ')[4] ?? ''))
    .filter((point) => point === path || point.startsWith(`${path}/`))
    .sort((a, b) => b.length - a.length)
}

/** Lazily unmounts everything below PATH, so removing PATH never reaches into /proc or /sys. */
export async function unmountUnder(path: string): Promise<void> {
  for (const point of await mountsUnder(path)) await run(['umount', '-l', point])
}
