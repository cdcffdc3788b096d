/**
 * The tree a wake boots. On the wake path the common case, a tree already there (a copy, or an
 * overlay mounted since an earlier boot), is answered from /proc/self/mountinfo alone; only a tree
 * that needs mounting loads rootfs/mount.ts, and with it exec.ts and execa (about 6 MB and, without
 * the JIT, over 100 ms to load: not something the first connection should wait for every time).
 */
import {existsSync, readFileSync} from 'node:fs'
import {CtrError} from '../errors.js'
import type {ContainerRecord} from '../store/containers.js'
import {containerPaths} from '../store/paths.js'
import {join} from 'node:path'
import {idmapsLowers} from '../rootfs/uid-ranges.js'

/** Mount points in /proc/self/mountinfo text (field 5, octal escapes such as \040 undone). */
export function mountPoints(mountinfo: string): Set<string> {
  return new Set(
    mountinfo
      .split('\n')
      .map((line) => line.split(' ')[4] ?? '')
      .filter(Boolean)
      .map((p) => p.replace(/\\([0-7]{3})/g, (_, octal: string) => String.fromCharCode(parseInt(octal, 8)))),
  )
}

/**
 * The tree to boot, mounted if it needs to be. Refused when the container's record is gone: ctr rm
 * hides the whole directory before the activator lets the container go, so a connection that comes
 * in between must not boot it, let alone mount (and so make again) a directory that was removed.
 */
export async function prepareTree(root: string, record: ContainerRecord): Promise<string> {
  const paths = containerPaths(root, record.name)
  const {rootfs} = paths
  // One stat, synchronous like the mountinfo read below: well under the cost of a pool round trip.
  if (!existsSync(paths.record)) {
    throw new CtrError('NOT_FOUND', `${record.name} has no record any more (removed?): not booting it`, {hints: ['see what there is: ctr ls']})
  }
  if (record.storage === 'copy') return rootfs
  // Read synchronously: half a millisecond, against two to four for a round trip through libuv's pool.
  const points = mountPoints(readFileSync('/proc/self/mountinfo', 'utf8'))
  if (points.has(rootfs)) {
    // Mounted as the record wants it (on idmapped lowers or not), or --private-users changed since.
    if (points.has(join(paths.dir, 'lowers', '0')) === idmapsLowers(record)) return rootfs
    await (await import('../rootfs/mount.js')).unmountRootfs(root, record.name)
  }
  return (await import('../rootfs/mount.js')).mountRootfs(root, record)
}
