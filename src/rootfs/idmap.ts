/**
 * --private-users on an overlay container: root inside is an unprivileged UID range on the host,
 * and the base stays shared. The kernel cannot idmap an overlayfs mount (nspawn's
 * --private-users-ownership=map fails on one), but it can idmap the overlay's lower layers, and the
 * upper dir is the container's own: so each lower is mounted idmapped (0 on disk seen as BASE) under
 * the container's dir, the overlay is stacked on those, and the upper dir is stored shifted on disk
 * (BASE + u), which is what the container's root writes anyway. nspawn then runs with
 * --private-users=BASE:65536 and --private-users-ownership=off: the tree is already in the range.
 *
 * The range is ctr's choice, made at create or update and kept in the record (uid-ranges.ts).
 */
import {chmod, lchown, lstat, mkdir, readdir, stat} from 'node:fs/promises'
import {closeSync} from 'node:fs'
import {join} from 'node:path'
import {startProgram} from '../exec.js'
import {mapUserNamespace, userNamespaceOf} from '../activator/proc.js'
import {mountIdmapped} from '../sys/mounts.js'
import {UID_RANGE, isUidBase} from './uid-ranges.js'

/** Where the idmapped lower layers of a container are mounted: DIR/lowers/0, 1, ... (top first). */
export function lowerMountPoints(containerDir: string, count: number): string[] {
  return Array.from({length: count}, (_, i) => join(containerDir, 'lowers', String(i)))
}

/**
 * Mounts each of LOWERS (top first) idmapped at its point under CONTAINER_DIR, 0..65535 on disk seen
 * as BASE..: through one user namespace made for the purpose (a short-lived `unshare --user`
 * whose namespace ctr maps from the host, as nspawn does for its containers). Returns the points.
 */
export async function mountIdmappedLowers(containerDir: string, lowers: readonly string[], base: number): Promise<string[]> {
  const points = lowerMountPoints(containerDir, lowers.length)
  const holder = startProgram(['unshare', '--user', '--', 'sleep', '60'])
  try {
    const pid = holder.pid
    if (pid === undefined) throw new Error('unshare did not start')
    const own = userNamespaceOf('self')
    for (let waited = 0; userNamespaceOf(pid) === own || userNamespaceOf(pid) === undefined; waited += 5) {
      if (waited > 5000) throw new Error('unshare made no user namespace within 5 s')
      await new Promise((r) => setTimeout(r, 5))
    }
    const userns = mapUserNamespace(pid, base, UID_RANGE)
    try {
      for (const [i, lower] of lowers.entries()) {
        await mkdir(points[i], {recursive: true, mode: 0o700})
        mountIdmapped(lower, points[i], userns)
      }
    } finally {
      closeSync(userns)
    }
  } finally {
    holder.kill('SIGKILL')
  }
  return points
}

/**
 * The upper dir's IDs as the record wants them: shifted by BASE for --private-users, unshifted
 * without (BASE undefined). The upper dir's own owner says how it is stored, so this is a no-op on
 * every mount but the first after a change. Walks without following links; a set-ID bit, which a
 * chown clears, is put back.
 */
export async function alignUpper(upper: string, base: number | undefined): Promise<void> {
  const own = (await stat(upper)).uid
  const stored = isUidBase(own - (own % UID_RANGE)) ? own - (own % UID_RANGE) : 0
  const wanted = base ?? 0
  if (stored === wanted) return
  await shiftTree(upper, stored, wanted)
}

async function shiftTree(path: string, from: number, to: number): Promise<void> {
  const info = await lstat(path)
  const move = (id: number) => (id >= from && id < from + UID_RANGE ? id - from + to : id)
  await lchown(path, move(info.uid), move(info.gid))
  if (!info.isSymbolicLink() && info.mode & 0o6000) await chmod(path, info.mode & 0o7777)
  if (!info.isDirectory()) return
  for (const name of await readdir(path)) await shiftTree(join(path, name), from, to)
}
