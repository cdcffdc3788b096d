/**
 * store/sweep.ts: what a killed ctr left is removed when the state lock is taken, and nothing that
 * a live process is making. A live maker is a real process holding the real flock (flock(1)).
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync} from 'node:fs'
import {mkdir, mkdtemp, readdir, rm, symlink, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {withLock} from '../../src/store/lock.js'
import {imagePaths, layout} from '../../src/store/paths.js'
import {removeTree, sweepDebris} from '../../src/store/sweep.js'

let root: string
let holders: ChildProcess[] = []
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'ctr-sweep-'))
  for (const d of ['containers', 'images', 'tmp']) await mkdir(join(root, d))
})
afterEach(async () => {
  for (const child of holders) child.kill('SIGKILL')
  holders = []
  await rm(root, {recursive: true, force: true})
})

/** A real process holding LOCKFILE (flock -x), as a bootstrap in progress does. */
async function holdLock(lockFile: string): Promise<void> {
  const child = spawn('flock', ['-x', lockFile, 'sleep', '60'], {stdio: 'ignore'})
  holders.push(child)
  for (let i = 0; i < 100 && !existsSync(lockFile); i++) await sleep(10)
  await sleep(100)
}

/** A pid that no process has now: a child that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn('true')
  await new Promise((resolve) => child.on('exit', resolve))
  return child.pid!
}

describe('sweepDebris', () => {
  it('removes half-made containers, host key dirs, free staging dirs and dead trash; keeps the rest', async () => {
    const d = layout(root)
    await mkdir(join(d.containers, 'half', 'rootfs', 'usr'), {recursive: true})
    await mkdir(join(d.containers, 'whole'))
    await writeFile(join(d.containers, 'whole', 'container.json'), '{}')
    await mkdir(join(d.tmp, 'hostkeys-Ab12Cd'))
    await mkdir(join(d.tmp, 'image-debian-bookworm', 'tree'), {recursive: true})
    await mkdir(join(d.tmp, 'image-debian-trixie', 'tree'), {recursive: true})
    await holdLock(imagePaths(root, 'debian-trixie').lock)
    const dead = await deadPid()
    await mkdir(join(d.tmp, `trash-${dead}-1-x`))
    await mkdir(join(d.tmp, `trash-${process.pid}-1-y`))
    await mkdir(join(d.tmp, 'unknown'))
    await mkdir(join(d.images, 'debian-bookworm.discarded-1-2', 'tree'), {recursive: true})
    await mkdir(join(d.images, 'debian-sid'))
    await writeFile(join(d.images, 'debian-sid', 'image.json'), '{}')
    await symlink(join(d.images, 'debian-sid'), join(d.images, 'linked'))

    const {removed} = await sweepDebris(root)

    expect(removed.map((p) => p.slice(root.length + 1)).sort()).toEqual(
      ['containers/half', 'images/debian-bookworm.discarded-1-2', 'tmp/hostkeys-Ab12Cd', 'tmp/image-debian-bookworm', `tmp/trash-${dead}-1-x`].sort(),
    )
    expect((await readdir(d.containers)).sort()).toEqual(['whole'])
    // The trash of removals themselves went too; what a live process owns stayed.
    expect((await readdir(d.tmp)).sort()).toEqual(['image-debian-trixie', `trash-${process.pid}-1-y`, 'unknown'].sort())
    expect((await readdir(d.images)).filter((n) => !n.startsWith('.')).sort()).toEqual(['debian-sid', 'linked'])
  })

  it('runs when the state lock is taken (once per process and root)', async () => {
    await mkdir(join(layout(root).containers, 'killed', 'rootfs'), {recursive: true})
    await withLock(layout(root).lockFile, async () => {
      expect(await readdir(layout(root).containers)).toEqual([])
    })
  })

  it('never removes outside the state root', async () => {
    await expect(removeTree(root, join(root, '..', 'elsewhere'))).rejects.toMatchObject({code: 'UNSAFE_PATH'})
    await expect(removeTree(root, root)).rejects.toMatchObject({code: 'UNSAFE_PATH'})
  })
})
