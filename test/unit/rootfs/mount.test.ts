/**
 * The boot path never makes a container's directory: ctr rm hides it first, and a boot racing with
 * that must fail, not mkdir -p it back and mount a bare base there.
 */
import {existsSync} from 'node:fs'
import {mkdir, readdir, rm, writeFile} from 'node:fs/promises'
import {beforeEach, describe, expect, it} from 'vitest'
import {prepareTree} from '../../../src/activator/tree.js'
import {mountRootfs} from '../../../src/rootfs/mount.js'
import type {ContainerRecord} from '../../../src/store/containers.js'
import {containerPaths, layout} from '../../../src/store/paths.js'
import {useTempDirs} from '../../helpers/temp.js'

const record: ContainerRecord = {
  name: 'gone',
  distro: 'debian',
  release: 'bookworm',
  image: 'debian-bookworm',
  storage: 'overlay',
  profile: 'lean',
  createdAt: '2026-11-29T00:00:00.000Z',
  ports: [],
  idleTimeoutSec: 0,
}

describe('mounting the tree of a container that is gone', () => {
  const tempDir = useTempDirs('ctr-mount-')
  let root: string
  beforeEach(async () => {
    root = await tempDir()
    await mkdir(layout(root).containers, {recursive: true})
  })

  it('its directory gone (renamed away by rm): refused, and nothing is made', async () => {
    for (const storage of ['overlay', 'copy'] as const) {
      await expect(mountRootfs(root, {...record, storage})).rejects.toMatchObject({code: 'NOT_FOUND', message: 'gone has no record any more (removed?): not mounting its tree'})
    }
    expect(await readdir(layout(root).containers)).toEqual([])
  })

  it('its record gone but its tree there (a removal, or debris): refused, nothing added', async () => {
    const paths = containerPaths(root, 'gone')
    await mkdir(paths.upper, {recursive: true})
    await expect(mountRootfs(root, record)).rejects.toMatchObject({code: 'NOT_FOUND'})
    expect(await readdir(paths.dir)).toEqual(['upper'])
  })

  it('the activator does not boot a container whose record is gone, whatever its storage', async () => {
    const paths = containerPaths(root, 'gone')
    await mkdir(paths.rootfs, {recursive: true})
    await writeFile(paths.record, JSON.stringify(record))
    await rm(paths.record)
    for (const storage of ['overlay', 'copy'] as const) {
      await expect(prepareTree(root, {...record, storage})).rejects.toMatchObject({code: 'NOT_FOUND', message: 'gone has no record any more (removed?): not booting it'})
    }
    await rm(paths.dir, {recursive: true})
    await expect(prepareTree(root, record)).rejects.toMatchObject({code: 'NOT_FOUND'})
    expect(existsSync(paths.dir)).toBe(false)
  })
})
