/**
 * Commands that act on all containers must count a broken one as there: its directory and its
 * image are its own, even if its record no longer says which image that is.
 */
import {existsSync} from 'node:fs'
import {mkdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {removeImage} from '../../../src/rootfs/images.js'
import {containerPaths, imagePaths} from '../../../src/store/paths.js'
import {useTempDirs} from '../../helpers/temp.js'

describe('a broken container among the others', () => {
  const tempDir = useTempDirs('ctr-broken-')

  it('keeps images rm from removing the image it may be made from', async () => {
    const root = await tempDir()
    const image = imagePaths(root, 'debian-bookworm')
    await mkdir(join(image.tree, 'usr'), {recursive: true})
    const record = {id: 'debian-bookworm', distro: 'debian', release: 'bookworm', mirror: 'http://deb.debian.org/debian', extraPackages: [], createdAt: '2026-11-29T00:00:00.000Z', sizeBytes: 1, bootstrapSeconds: 1}
    await writeFile(image.record, JSON.stringify(record))
    await mkdir(containerPaths(root, 'mid').dir, {recursive: true})
    await writeFile(containerPaths(root, 'mid').record, '{"name": "mid", "image": ')
    await expect(removeImage(root, 'debian-bookworm')).rejects.toMatchObject({code: 'IN_USE', message: 'image debian-bookworm is used by mid'})
    expect(existsSync(image.tree)).toBe(true)
  })
})
