/**
 * The state root's own directories: the root, images/, tmp/, containers/ and activator/ are 0700,
 * since base trees carry setuid binaries (an imported archive may carry any) that no other user of
 * the host may reach. New roots are made so; a root made by an older ctr (0755) is tightened the
 * first time this process opens it. Every path that writes goes through here: the state lock
 * (store/lock.ts) and the making of an image (rootfs/images.ts stageImage).
 */
import {chmod, mkdir, stat} from 'node:fs/promises'
import {dirname} from 'node:path'
import {layout} from './paths.js'

const PRIVATE = 0o700
const prepared = new Map<string, Promise<void>>()

export function prepareRoot(root: string): Promise<void> {
  let done = prepared.get(root)
  if (!done) {
    done = makeRoot(root)
    prepared.set(root, done)
    done.catch(() => prepared.delete(root))
  }
  return done
}

async function makeRoot(root: string): Promise<void> {
  const dirs = layout(root)
  // The root's parents are the host's (e.g. /var/lib): made as mkdir -p would, not made private.
  await mkdir(dirname(root), {recursive: true})
  for (const dir of [root, dirs.images, dirs.tmp, dirs.containers, dirs.activatorDir]) {
    await mkdir(dir, {mode: PRIVATE}).catch((error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw error
    })
    // mkdir applies the umask, and an existing dir keeps its mode: set it either way.
    const info = await stat(dir)
    if ((info.mode & 0o7777) !== PRIVATE) await chmod(dir, PRIVATE)
  }
}
