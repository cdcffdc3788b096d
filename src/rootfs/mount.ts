/**
 * A container's tree: an overlay of the cached base (lower, read-only, shared) and the
 * container's own upper dir, mounted at containers/NAME/rootfs; or a plain copy there (--copy).
 */
import {readFile} from 'node:fs/promises'
import {mkdir} from 'node:fs/promises'
import {run} from '../exec.js'
import type {ContainerRecord} from '../store/containers.js'
import {containerPaths, imagePaths} from '../store/paths.js'

export async function isMountPoint(path: string): Promise<boolean> {
  const mountinfo = await readFile('/proc/self/mountinfo', 'utf8')
  // Field 5 is the mount point, with spaces and the like escaped as octal (\040).
  return mountinfo.split('\n').some((line) => unescapeMountPath(line.split(' ')[4] ?? '') === path)
}

function unescapeMountPath(path: string): string {
  return path.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))
}

export function overlayMountArgv(lower: string, upper: string, work: string, target: string): string[] {
  return ['mount', '-t', 'overlay', 'overlay', '-o', `lowerdir=${lower},upperdir=${upper},workdir=${work}`, target]
}

/** Makes sure the container's tree is in place (mounts the overlay if needed); returns its path. */
export async function mountRootfs(root: string, record: Pick<ContainerRecord, 'name' | 'image' | 'storage'>): Promise<string> {
  const paths = containerPaths(root, record.name)
  if (record.storage === 'copy') return paths.rootfs
  if (await isMountPoint(paths.rootfs)) return paths.rootfs
  await Promise.all([paths.upper, paths.work, paths.rootfs].map((d) => mkdir(d, {recursive: true})))
  await run(overlayMountArgv(imagePaths(root, record.image).tree, paths.upper, paths.work, paths.rootfs))
  return paths.rootfs
}

export async function unmountRootfs(root: string, name: string): Promise<void> {
  const {rootfs} = containerPaths(root, name)
  if (await isMountPoint(rootfs)) await run(['umount', rootfs])
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
