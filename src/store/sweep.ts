/**
 * What a killed ctr left behind, removed by the next ctr that takes the state lock (store/lock.ts).
 * A SIGKILL runs no cleanup, but the kernel drops its flocks, and every half-made thing is owned by
 * a lock that says whether its maker still lives:
 * - containers/NAME without container.json: made only under the state lock (create writes the
 *   record last), so once we hold that lock nobody is making it. Unmounted first (an overlay, or
 *   what a killed bootstrap left mounted), then removed.
 * - tmp/hostkeys-*: made by create's customize step, also under the state lock.
 * - tmp/image-ID: the staging dir of image ID, made under that image's lock; removed when the
 *   lock can be taken without waiting (a bootstrap or import in progress keeps its own).
 * - tmp/trash-PID-*: a removal by process PID that did not finish; removed once PID is gone.
 * - images/ID without image.json: a removal (images rm) that was killed after the record went.
 * Cheap by design: one readdir each of containers/, images/ and tmp/ and one lstat per entry;
 * mountinfo is read only when there is something to remove.
 */
import {lstat, readdir, rename, rm} from 'node:fs/promises'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {errnoCode} from '../errors.js'
import {debug} from '../log.js'
import {unmountUnder} from '../rootfs/mount.js'
import {tryLock} from './lock.js'
import {assertUnderRoot, imagePaths, layout} from './paths.js'

export interface SweepReport {
  removed: string[]
}

export async function sweepDebris(root: string): Promise<SweepReport> {
  const dirs = layout(root)
  const removed: string[] = []
  const remove = async (path: string) => {
    await removeTree(root, path)
    removed.push(path)
  }
  for (const name of await entries(dirs.containers)) {
    const dir = join(dirs.containers, name)
    if (!(await exists(join(dir, 'container.json')))) await remove(dir)
  }
  for (const name of await entries(dirs.images)) {
    const dir = join(dirs.images, name)
    if (await exists(join(dir, 'image.json'))) continue
    await withImageLock(root, name, () => remove(dir))
  }
  for (const name of await entries(dirs.tmp)) {
    const path = join(dirs.tmp, name)
    if (name.startsWith('hostkeys-')) await remove(path)
    else if (name.startsWith('image-')) await withImageLock(root, name.slice('image-'.length), () => remove(path))
    else if (name.startsWith('trash-') && !alive(Number(name.split('-')[1]))) await remove(path)
  }
  if (removed.length > 0) debug(`swept what a killed ctr left: ${removed.join(', ')}`)
  return {removed}
}

/**
 * Removes PATH (under ROOT) for good: what is mounted below it is unmounted lazily first, so the
 * removal never reaches into a mounted base or /proc; it is moved aside into tmp/ first (a process
 * still writing there, such as a cp outliving its ctr, then writes into the trash, not into a dir
 * that looks like the old one), and removing it is retried while such writes land.
 */
export async function removeTree(root: string, path: string): Promise<void> {
  assertUnderRoot(root, path)
  await unmountUnder(path)
  const trash = assertUnderRoot(root, join(layout(root).tmp, `trash-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`))
  let target = path
  try {
    await rename(path, trash)
    target = trash
  } catch (error) {
    const code = errnoCode(error)
    if (code === 'ENOENT' && !(await exists(path))) return
    // EXDEV (tmp/ on another filesystem), no tmp/ (ENOENT, ENOTDIR): remove it where it is.
    if (code !== 'EXDEV' && code !== 'ENOTDIR' && code !== 'ENOENT') throw error
  }
  for (let attempt = 0; ; attempt++) {
    try {
      await rm(target, {recursive: true, force: true})
      return
    } catch (error) {
      if (errnoCode(error) !== 'ENOTEMPTY' || attempt >= 50) throw error
      await sleep(100)
    }
  }
}

async function withImageLock(root: string, id: string, body: () => Promise<void>): Promise<void> {
  let lock: string
  try {
    lock = imagePaths(root, id).lock
  } catch {
    // Not a name ctr makes an image of: nothing can be making it.
    return body()
  }
  await tryLock(lock, body)
}

async function entries(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((name) => !name.startsWith('.'))
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return []
    throw error
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path)
    return true
  } catch (error) {
    if (errnoCode(error) === 'ENOENT' || errnoCode(error) === 'ENOTDIR') return false
    throw error
  }
}

function alive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return errnoCode(error) !== 'ESRCH'
  }
}
