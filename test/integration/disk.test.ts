/**
 * A full disk, for real: each case mounts a small tmpfs (size=300m, or fewer inodes) and makes it
 * the state root, then runs the built CLI against it: an import of the real base exported from the
 * run's cache, one with a 150 MB file at its end, a gzip bomb (3 GB of zeros) made on the fly, an
 * import whose disk is filled by someone else while it writes, a real debootstrap that fills it,
 * and create --copy and overlay on filesystems that cannot hold them. Each must fail in one line
 * with NO_SPACE and keep nothing.
 */
import {spawn} from 'node:child_process'
import {createReadStream, createWriteStream} from 'node:fs'
import {mkdir, mkdtemp, readdir, rm, stat, statfs, symlink} from 'node:fs/promises'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {createGzip} from 'node:zlib'
import {execa} from 'execa'
import {Header} from 'tar'
import {afterAll, afterEach, beforeAll, describe, expect, it} from 'vitest'
import {exportImage} from '../../src/rootfs/image-archive.js'
import {mountsUnder, unmountUnder} from '../../src/rootfs/mount.js'
import {layout} from '../../src/store/paths.js'
import {CTR, ctr} from '../helpers/cli.js'
import {cachedBase, skipReason} from '../helpers/roots.js'
import {makeKeyPair} from '../helpers/ssh.js'

const reason = skipReason()
if (reason) console.warn(`test/integration/disk.test.ts: ${reason}`)

const MB = 1e6
const FULL = /^ctr: the state root's filesystem is full \((\d+) MB free[^)]*\)$/

/** Bytes used on the filesystem at DIR. */
async function used(dir: string): Promise<number> {
  const s = await statfs(dir)
  return (s.blocks - s.bfree) * s.bsize
}

/** A tar of ./etc/os-release and ./zeros (SIZE zero bytes), gzipped as it is made. */
async function gzipBomb(path: string, size: number): Promise<void> {
  const gzip = createGzip({level: 1})
  const done = new Promise((resolve, reject) => gzip.pipe(createWriteStream(path)).on('close', resolve).on('error', reject))
  const write = (b: Buffer) => new Promise<void>((resolve) => (gzip.write(b) ? resolve() : gzip.once('drain', () => resolve())))
  const header = (p: string, type: 'File' | 'Directory', s: number) => {
    const block = Buffer.alloc(512)
    new Header({path: p, type, size: s, mode: type === 'File' ? 0o644 : 0o755, uid: 0, gid: 0, mtime: new Date()}).encode(block, 0)
    return block
  }
  const osRelease = Buffer.from('ID=debian\nVERSION_CODENAME=bookworm\n')
  await write(header('./', 'Directory', 0))
  await write(header('./etc/', 'Directory', 0))
  await write(header('./etc/os-release', 'File', osRelease.length))
  await write(Buffer.concat([osRelease, Buffer.alloc(512 - osRelease.length)]))
  await write(header('./zeros', 'File', size))
  const chunk = Buffer.alloc(1 << 20)
  for (let left = size; left > 0; left -= chunk.length) await write(left >= chunk.length ? chunk : chunk.subarray(0, left))
  await write(Buffer.alloc(1024 + ((512 - (size % 512)) % 512)))
  gzip.end()
  await done
}

describe.skipIf(reason)('a full disk (a real tmpfs as state root)', () => {
  let work: string
  let archive: string
  let cacheImage: string
  let keys: Awaited<ReturnType<typeof makeKeyPair>>
  const mounts: string[] = []

  beforeAll(async () => {
    const {cacheRoot, id} = await cachedBase()
    cacheImage = join(layout(cacheRoot).images, id)
    keys = await makeKeyPair()
    work = await mkdtemp('/var/tmp/ctr-test-disk-')
    archive = join(work, 'base.tar')
    const started = Date.now()
    await exportImage(cacheRoot, id, archive)
    console.log(`exported the base: ${((await stat(archive)).size / MB).toFixed(0)} MB in ${Date.now() - started} ms`)
  })

  /** Unmounted after each case, so that at most one small tmpfs holds memory at a time. */
  afterEach(async () => {
    for (const dir of mounts.splice(0)) {
      await unmountUnder(dir)
      await rm(dir, {recursive: true, force: true})
    }
  })

  afterAll(async () => {
    for (const dir of mounts.splice(0)) await unmountUnder(dir)
    if (work) await rm(work, {recursive: true, force: true})
    if (keys) await rm(keys.dir, {recursive: true, force: true})
  })

  /** A fresh tmpfs (mount options OPTIONS) and a state root on it; the filler goes beside the root. */
  async function tmpfs(options: string, withBase = false): Promise<{fs: string; root: string}> {
    const fs = await mkdtemp(join(work, 'fs-'))
    await execa('mount', ['-t', 'tmpfs', '-o', options, 'tmpfs', fs])
    mounts.push(fs)
    const root = join(fs, 'root')
    if (withBase) {
      await mkdir(layout(root).images, {recursive: true})
      await symlink(cacheImage, join(layout(root).images, 'debian-bookworm'))
    }
    return {fs, root}
  }

  /** Fills FS until LEAVE bytes are free (as another program on the host would). */
  async function fill(fs: string, leave: number): Promise<void> {
    const s = await statfs(fs)
    await execa('fallocate', ['-l', String(s.bavail * s.bsize - leave), join(fs, `filler-${Date.now()}`)])
  }

  /** One line saying the filesystem is full (plus a hint), exit 1; returns the MB it says are free. */
  function saysFull(result: {exitCode?: number; stderr: string}): number {
    // (A bootstrap's progress lines come first, when stderr is not a terminal.)
    const all = result.stderr.trim().split('\n')
    const lines = all.slice(Math.max(0, all.findIndex((line) => line.startsWith('ctr: '))))
    expect(result.exitCode, result.stderr).toBe(1)
    expect(lines[0]).toMatch(FULL)
    expect(lines.length).toBeLessThanOrEqual(2)
    return Number(FULL.exec(lines[0])![1])
  }

  /** Nothing half-made: no image dir, nothing in tmp/ or containers/, nothing mounted, nothing listed. */
  async function nothingKept(root: string, base: string[] = []): Promise<void> {
    expect((await readdir(layout(root).images).catch(() => [])).filter((n) => !n.startsWith('.'))).toEqual(base)
    expect(await readdir(layout(root).tmp).catch(() => [])).toEqual([])
    expect(await readdir(layout(root).containers).catch(() => [])).toEqual([])
    expect(await mountsUnder(root)).toEqual([])
    const images = await ctr(root, ['images', '--json'])
    expect(JSON.parse(images.stdout).map((i: {id: string}) => i.id)).toEqual(base)
    const ls = await ctr(root, ['ls', '--json'])
    expect(JSON.parse(ls.stdout).containers).toEqual([])
  }

  it('an import on a full filesystem is refused in one line (it said "imported (0 MB)", every file empty)', async () => {
    const {fs, root} = await tmpfs('size=300m')
    await fill(fs, 5 * MB)
    const result = await ctr(root, ['images', 'import', archive, '--distro', 'debian'])
    const free = saysFull(result)
    console.log(`full tmpfs: "${result.stderr.split('\n')[0]}"`)
    expect(free).toBeLessThanOrEqual(5)
    await nothingKept(root)
  })

  it('an archive that outgrows the filesystem stops at the header that no longer fits, and keeps nothing', async () => {
    const big = join(work, 'big')
    await mkdir(big)
    await execa('truncate', ['-s', '150M', join(big, 'big-file')])
    const grown = join(work, 'base-and-150mb.tar')
    await execa('cp', [archive, grown])
    await execa('tar', ['-rf', grown, '-C', big, './big-file'])
    const {fs, root} = await tmpfs('size=300m')
    const before = await used(fs)
    const started = Date.now()
    const result = await ctr(root, ['images', 'import', grown, '--distro', 'debian'])
    saysFull(result)
    expect(result.stderr).toMatch(/at least [34]\d\d MB needed/)
    console.log(`base + 150 MB on a 300 MB tmpfs: "${result.stderr.split('\n')[0]}" after ${Date.now() - started} ms`)
    await nothingKept(root)
    expect(await used(fs)).toBeLessThan(before + 1 * MB)
    await rm(grown)
  })

  it('a gzip bomb (3 GB of zeros) is refused at its header, before it fills the disk', async () => {
    const bomb = join(work, 'bomb.tar.gz')
    let started = Date.now()
    await gzipBomb(bomb, 3 * 1024 ** 3)
    console.log(`gzip bomb: ${((await stat(bomb)).size / MB).toFixed(1)} MB holding 3 GB of zeros, made in ${Date.now() - started} ms`)
    const {fs, root} = await tmpfs('size=300m')
    const before = await used(fs)
    let peak = before
    let running = true
    const watch = (async () => {
      while (running) {
        peak = Math.max(peak, await used(fs))
        await sleep(10)
      }
    })()
    started = Date.now()
    const result = await ctr(root, ['images', 'import', bomb, '--distro', 'debian'])
    running = false
    await watch
    saysFull(result)
    // It was "has no /usr/lib/systemd/systemd", once the 300 MB were full.
    expect(result.stderr).toMatch(/at least 32\d\d MB needed/)
    console.log(`bomb: "${result.stderr.split('\n')[0]}" after ${Date.now() - started} ms; the tmpfs peaked at ${((peak - before) / MB).toFixed(1)} MB used`)
    expect(peak - before).toBeLessThan(5 * MB)
    await nothingKept(root)
  })

  it('a write that fails mid-import (the disk filled meanwhile) ends it in one line and keeps nothing', async () => {
    const {fs, root} = await tmpfs('size=300m')
    const child = spawn(CTR, ['images', 'import', '-', '--distro', 'debian', '--root', root], {stdio: ['pipe', 'pipe', 'pipe'], env: {...process.env, NO_COLOR: '1'}})
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    child.stdin.on('error', () => {})
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    const input = createReadStream(archive, {highWaterMark: 1 << 20})
    let sent = 0
    let filled = false
    for await (const chunk of input) {
      // (A ctr that has stopped reading never drains: its exit ends the wait too.)
      if (!child.stdin.write(chunk)) await Promise.race([new Promise((resolve) => child.stdin.once('drain', resolve)), exited])
      sent += chunk.length
      if (!filled && sent >= 100 * MB) {
        // The first 100 MB are being written: now the disk fills, as if another program did it.
        for (let i = 0; i < 200 && (await used(fs)) < 60 * MB; i++) await sleep(20)
        await fill(fs, 1 * MB)
        filled = true
      }
      if (child.exitCode !== null) break
    }
    child.stdin.end()
    input.destroy()
    const code = await exited
    saysFull({exitCode: code ?? undefined, stderr})
    console.log(`disk filled mid-import: "${stderr.split('\n')[0]}"`)
    await nothingKept(root)
  })

  it('a bootstrap that fills the disk says so (debootstrap said "file already exists") and keeps nothing', async () => {
    // The real debootstrap from the real mirror: the downloads and the first packages fill 100 MB.
    const {root} = await tmpfs('size=100m')
    const started = Date.now()
    const result = await ctr(root, ['create', 'debian', 'boot', '--ssh-key', keys.pub])
    saysFull(result)
    console.log(`bootstrap on a 100 MB tmpfs: "${result.stderr.trim().split('\n').at(-2)}" after ${Date.now() - started} ms`)
    await nothingKept(root)
  })

  it('create --copy on a filesystem too small for the base is refused before cp runs', async () => {
    const {fs, root} = await tmpfs('size=100m', true)
    const before = await used(fs)
    const result = await ctr(root, ['create', 'debian', 'big', '--copy', '--ssh-key', keys.pub])
    saysFull(result)
    expect(result.stderr).toMatch(/at least 21\d MB needed/)
    expect(await used(fs)).toBeLessThan(before + 1 * MB)
    await nothingKept(root, ['debian-bookworm'])
  })

  it("create --copy whose cp runs out of space says so in one line (it was cp's 10-line dump)", async () => {
    // Bytes enough for the base, inodes not: the base has about 7,000 entries.
    const {root} = await tmpfs('size=300m,nr_inodes=3000', true)
    const result = await ctr(root, ['create', 'debian', 'many', '--copy', '--ssh-key', keys.pub])
    saysFull(result)
    expect(result.stderr).toMatch(/inodes free/)
    expect(result.stderr).not.toMatch(/cp:/)
    console.log(`cp out of inodes: "${result.stderr.split('\n')[0]}"`)
    await nothingKept(root, ['debian-bookworm'])
  })

  it('create (overlay) on a full filesystem, and one that fills while customizing, fail in one line', async () => {
    const {fs, root} = await tmpfs('size=300m', true)
    await fill(fs, 4 * MB)
    saysFull(await ctr(root, ['create', 'debian', 'full', '--ssh-key', keys.pub]))
    await nothingKept(root, ['debian-bookworm'])

    // Room for the overlay's directories, not for the host keys and units written into it.
    const few = await tmpfs('size=300m,nr_inodes=24', true)
    const result = await ctr(few.root, ['create', 'debian', 'few', '--ssh-key', keys.pub])
    saysFull(result)
    console.log(`overlay out of inodes while customizing: "${result.stderr.split('\n')[0]}"`)
    await nothingKept(few.root, ['debian-bookworm'])
  })
})
