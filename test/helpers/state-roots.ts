/** New state roots over images another root keeps (no vitest here: benchmarks use it too). */
import {mkdir, mkdtemp, symlink} from 'node:fs/promises'
import {join} from 'node:path'
import {layout} from '../../src/store/paths.js'

/** A fresh state root /var/tmp/PREFIXxxxxxx whose images/ links images IDS of FROM_ROOT. */
export async function linkedRoot(prefix: string, fromRoot: string, ids: readonly string[]): Promise<string> {
  const root = await mkdtemp(`/var/tmp/${prefix}`)
  await mkdir(layout(root).images, {recursive: true})
  for (const id of ids) await symlink(join(layout(fromRoot).images, id), join(layout(root).images, id))
  return root
}
