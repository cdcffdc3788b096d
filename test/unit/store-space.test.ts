/** store/space.ts (free space and the one NO_SPACE line) and store/root.ts (a private state root). */
import {chmod, mkdir, mkdtemp, rm, stat} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {CtrError} from '../../src/errors.js'
import {prepareRoot} from '../../src/store/root.js'
import {blocksFor, freeSpace, isNoSpace, isSpaceReport, marginBytes, noSpace, requireSpace, spaceBudget, usableBytes} from '../../src/store/space.js'

const MB = 1e6

describe('free space', () => {
  it('reads statfs of the nearest existing parent of a path not made yet', async () => {
    const space = await freeSpace(join(tmpdir(), 'ctr-no-such-dir', 'deeper'))
    expect(space.totalBytes).toBeGreaterThan(0)
    expect(space.freeBytes).toBeGreaterThan(0)
    expect(space.freeBytes).toBeLessThanOrEqual(space.totalBytes)
    expect(space.blockSize).toBeGreaterThanOrEqual(512)
  })

  it('keeps a margin of 5% of the filesystem, at most 64 MB', () => {
    expect(marginBytes({totalBytes: 300 * MB})).toBe(15 * MB)
    expect(marginBytes({totalBytes: 100_000 * MB})).toBe(64 * MB)
    expect(usableBytes({freeBytes: 10 * MB, totalBytes: 300 * MB, blockSize: 4096})).toBe(0)
    expect(blocksFor(1, 4096)).toBe(4096)
    expect(blocksFor(0, 4096)).toBe(0)
    expect(blocksFor(8193, 4096)).toBe(12288)
  })

  it('tallies announced sizes and says false at the first one that does not fit', () => {
    const budget = spaceBudget({freeBytes: 115 * MB, totalBytes: 300 * MB, freeInodes: 1000, blockSize: 4096})
    expect(budget.add(60 * MB)).toBe(true)
    expect(budget.add(40 * MB)).toBe(true)
    expect(budget.add(1 * MB)).toBe(false)
    // 101 MB announced, and the 15 MB margin kept free.
    expect(budget.needed()).toBe(116 * MB)
    const inodes = spaceBudget({freeBytes: 300 * MB, totalBytes: 300 * MB, freeInodes: 2, blockSize: 4096})
    expect(inodes.add(0)).toBe(true)
    expect(inodes.add(0)).toBe(true)
    expect(inodes.add(0)).toBe(false)
  })

  it('says the filesystem is full in one line with code NO_SPACE', () => {
    const error = noSpace({freeBytes: 3.4 * MB}, 3221 * MB)
    expect(error).toBeInstanceOf(CtrError)
    expect(error.code).toBe('NO_SPACE')
    expect(error.message).toBe("the state root's filesystem is full (3 MB free, at least 3221 MB needed)")
    expect(error.message).not.toContain('\n')
    expect(noSpace({freeBytes: 200 * MB, freeInodes: 0}).message).toBe("the state root's filesystem is full (200 MB free, 0 inodes free)")
    expect(isSpaceReport(error)).toBe(true)
    expect(isSpaceReport(new CtrError('NO_SPACE', 'x'))).toBe(false)
  })

  it('knows a full disk by errno, by a tool message, and by code', () => {
    expect(isNoSpace(Object.assign(new Error('write'), {code: 'ENOSPC'}))).toBe(true)
    expect(isNoSpace(Object.assign(new Error('write'), {code: 'EDQUOT'}))).toBe(true)
    expect(isNoSpace(new CtrError('COMMAND_FAILED', "cp failed (exit 1): cp: error writing 'x/usr/bin/bash': No space left on device"))).toBe(true)
    expect(isNoSpace(new CtrError('NO_SPACE', 'the disk filled up while bootstrapping'))).toBe(true)
    expect(isNoSpace(Object.assign(new Error('read'), {code: 'EIO'}))).toBe(false)
    expect(isNoSpace(undefined)).toBe(false)
  })

  it('refuses what cannot fit before it starts', async () => {
    const space = await freeSpace(tmpdir())
    await expect(requireSpace(tmpdir(), space.totalBytes * 2)).rejects.toMatchObject({code: 'NO_SPACE'})
    await expect(requireSpace(tmpdir(), 0)).resolves.toMatchObject({blockSize: space.blockSize})
  })
})

describe('prepareRoot', () => {
  let parent: string
  beforeEach(async () => {
    parent = await mkdtemp(join(tmpdir(), 'ctr-root-'))
  })
  afterEach(() => rm(parent, {recursive: true, force: true}))

  const modes = async (root: string) =>
    Promise.all(['', 'images', 'tmp', 'containers', 'activator'].map(async (d) => ((await stat(join(root, d))).mode & 0o7777).toString(8)))

  it('makes a new root and its dirs 0700 (its parents as mkdir -p would)', async () => {
    const root = join(parent, 'a', 'b', 'ctr')
    await prepareRoot(root)
    expect(await modes(root)).toEqual(['700', '700', '700', '700', '700'])
    expect((await stat(join(parent, 'a'))).mode & 0o077).not.toBe(0)
  })

  it('tightens a root an older ctr made 0755', async () => {
    const root = join(parent, 'old')
    for (const d of ['', 'images', 'tmp']) await mkdir(join(root, d), {recursive: true})
    for (const d of ['', 'images', 'tmp']) await chmod(join(root, d), 0o755)
    await prepareRoot(root)
    expect(await modes(root)).toEqual(['700', '700', '700', '700', '700'])
  })
})
