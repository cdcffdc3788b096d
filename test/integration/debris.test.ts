/**
 * Killed commands leave nothing behind for long: a real `ctr create --copy` is SIGKILLed while cp
 * copies the base, a real overlay create while it makes host keys, a real create while the real
 * debootstrap downloads, a real `ctr images import -` while it unpacks; nothing half-made is listed meanwhile, and the next ctr that takes the lock
 * removes what they left, but not what a live import is making.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {createReadStream, existsSync} from 'node:fs'
import {mkdtemp, readdir, readFile, rm, stat} from 'node:fs/promises'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {exportImage} from '../../src/rootfs/image-archive.js'
import {mountsUnder} from '../../src/rootfs/mount.js'
import {containerPaths, layout} from '../../src/store/paths.js'
import {CTR, ctr} from '../helpers/cli.js'
import {cachedBase, destroyTestRoot, makeTestRoot, skipReason} from '../helpers/roots.js'
import {makeKeyPair} from '../helpers/ssh.js'

const reason = skipReason()
if (reason) console.warn(`test/integration/debris.test.ts: ${reason}`)

const MB = 1e6

async function du(path: string): Promise<number> {
  // A tree being written (debootstrap's own temp files come and go) makes du complain and exit 1
  // about a file that vanished under it; its total is still printed, and is what is wanted here.
  const {stdout} = await execa('du', ['-sxb', path], {reject: false})
  return Number(stdout.trim().split('\n').at(-1)?.split(/\s/)[0] ?? 0)
}

/** Waits (polling every 2 ms) until READY says yes; fails after TIMEOUT ms. */
async function until(what: string, ready: () => Promise<boolean> | boolean, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await ready())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(2)
  }
}

/** pids of processes whose command line mentions PATH (a cp that outlived its ctr). */
async function processesNaming(path: string): Promise<number[]> {
  const pids: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue
    const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '')
    if (cmdline.split('\0').some((arg) => arg.startsWith(path))) pids.push(Number(entry))
  }
  return pids
}

const children: ChildProcess[] = []

function start(root: string, args: string[]): ChildProcess & {exited: Promise<NodeJS.Signals | number | null>} {
  const child = spawn(CTR, [...args, '--root', root], {stdio: ['pipe', 'ignore', 'pipe'], env: {...process.env, NO_COLOR: '1'}})
  child.stdin!.on('error', () => {})
  children.push(child)
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, signal) => resolve(signal ?? code)))
  return Object.assign(child, {exited})
}

describe.skipIf(reason)('what a killed ctr leaves is swept by the next one (real SIGKILL, real CLI)', () => {
  let keys: Awaited<ReturnType<typeof makeKeyPair>>
  let work: string
  let archive: string
  const roots: string[] = []

  beforeAll(async () => {
    keys = await makeKeyPair()
    const {cacheRoot, id} = await cachedBase()
    work = await mkdtemp('/var/tmp/ctr-test-debris-')
    archive = join(work, 'base.tar')
    await exportImage(cacheRoot, id, archive)
  })

  afterAll(async () => {
    // A ctr of a failed case may still wait for its input: stopped by its pid.
    for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    for (const root of roots) await destroyTestRoot(root)
    if (work) await rm(work, {recursive: true, force: true})
    if (keys) await rm(keys.dir, {recursive: true, force: true})
  })

  const names = async (root: string) => JSON.parse((await ctr(root, ['ls', '--json'])).stdout).containers.map((c: {name: string}) => c.name)
  const imageIds = async (root: string) => JSON.parse((await ctr(root, ['images', '--json'])).stdout).map((i: {id: string}) => i.id)

  it('SIGKILL of create --copy mid-copy: the half copy is never listed and the next create removes it', async () => {
    const root = await makeTestRoot()
    roots.push(root)
    const victim = containerPaths(root, 'victim')
    const child = start(root, ['create', 'debian', 'victim', '--copy', '--ssh-key', keys.pub])
    await until('cp to start copying', () => existsSync(join(victim.rootfs, 'usr', 'lib')))
    await sleep(30)
    child.kill('SIGKILL')
    expect(await child.exited).toBe('SIGKILL')
    await sleep(200)
    const left = await du(victim.dir)
    console.log(`killed create --copy left ${(left / MB).toFixed(0)} MB in containers/victim`)
    expect(left).toBeGreaterThan(1 * MB)
    expect(existsSync(victim.record)).toBe(false)
    // cp died with its ctr (it went on filling the directory).
    expect(await processesNaming(victim.dir)).toEqual([])
    expect(await names(root)).toEqual([])

    const started = Date.now()
    const next = await ctr(root, ['create', 'debian', 'next', '--ssh-key', keys.pub])
    expect(next.exitCode, next.stderr).toBe(0)
    console.log(`the next create (overlay, with the sweep) took ${Date.now() - started} ms`)
    expect(await readdir(layout(root).containers)).toEqual(['next'])
    expect(await readdir(layout(root).tmp)).toEqual([])
    expect(await names(root)).toEqual(['next'])
    // makeTestRoot made images/ 0755, as an older ctr did: the locked command tightened it.
    const modes = await Promise.all(['', 'images', 'tmp', 'containers', 'activator'].map(async (d) => ((await stat(join(root, d))).mode & 0o777).toString(8)))
    expect(modes).toEqual(['700', '700', '700', '700', '700'])
  })

  it('SIGKILL of an overlay create while it makes host keys: its mount and tmp/hostkeys-* go at the next create', async () => {
    const root = await makeTestRoot()
    roots.push(root)
    const victim = containerPaths(root, 'keys')
    const hostKeys = async () => (await readdir(layout(root).tmp).catch(() => [])).some((n) => n.startsWith('hostkeys-'))
    const child = start(root, ['create', 'debian', 'keys', '--ssh-key', keys.pub])
    await until('host keys being made', hostKeys)
    child.kill('SIGKILL')
    expect(await child.exited).toBe('SIGKILL')
    expect(await hostKeys()).toBe(true)
    expect(await mountsUnder(victim.dir)).toEqual([victim.rootfs])
    expect(await names(root)).toEqual([])

    // The same create again: what the killed one left is swept first (unmounted, removed).
    const again = await ctr(root, ['create', 'debian', 'keys', '--ssh-key', keys.pub])
    expect(again.exitCode, again.stderr).toBe(0)
    expect(await hostKeys()).toBe(false)
    expect(await mountsUnder(root)).toEqual([victim.rootfs])
    expect(await names(root)).toEqual(['keys'])
  })

  it('SIGKILL of a create while debootstrap runs: debootstrap stops too, and the next locked ctr removes its staging dir', async () => {
    const root = await mkdtemp('/var/tmp/ctr-test-root-')
    roots.push(root)
    const staging = join(layout(root).tmp, 'image-debian-bookworm')
    const child = start(root, ['create', 'debian', 'boot', '--ssh-key', keys.pub])
    await until('debootstrap to download', async () => existsSync(staging) && (await du(staging)) > 10 * MB, 120_000)
    child.kill('SIGKILL')
    expect(await child.exited).toBe('SIGKILL')
    // Its script died with ctr; the download it was running ends on its own.
    const started = Date.now()
    await until('no process working in the staging dir', async () => (await processesNaming(staging)).length === 0, 30_000)
    console.log(`killed bootstrap: ${((await du(staging)) / MB).toFixed(0)} MB left in tmp/, its processes gone ${Date.now() - started} ms after the kill`)
    expect(await imageIds(root)).toEqual([])

    const rmImage = await ctr(root, ['images', 'rm', 'debian-bookworm'])
    expect(rmImage.stderr).toMatch(/^ctr: no image debian-bookworm/)
    expect(await readdir(layout(root).tmp)).toEqual([])
    expect(await mountsUnder(root)).toEqual([])
  })

  it('SIGKILL of images import - mid-unpack: no image is listed, the next locked ctr removes the staging dir, a live import keeps its own', async () => {
    const root = await mkdtemp('/var/tmp/ctr-test-root-')
    roots.push(root)
    const staging = join(layout(root).tmp, 'image-debian-bookworm')
    /** Pipes the archive (its first LIMIT bytes) to CHILD; resolves when they are read. */
    const feed = (child: ChildProcess, limit = Infinity) => {
      const input = createReadStream(archive, {end: limit === Infinity ? undefined : limit - 1})
      input.pipe(child.stdin!, {end: limit === Infinity})
      return new Promise((resolve) => input.on('end', resolve))
    }
    const killed = start(root, ['images', 'import', '-', '--distro', 'debian'])
    void feed(killed)
    await until('50 MB unpacked', async () => existsSync(staging) && (await du(staging)) > 50 * MB)
    killed.kill('SIGKILL')
    expect(await killed.exited).toBe('SIGKILL')
    const left = await du(layout(root).tmp)
    console.log(`killed import left ${(left / MB).toFixed(0)} MB in tmp/`)
    expect(left).toBeGreaterThan(50 * MB)
    expect(await imageIds(root)).toEqual([])

    // The next ctr that takes the state lock (here a removal of the half image) sweeps it.
    const rmImage = await ctr(root, ['images', 'rm', 'debian-bookworm'])
    expect(rmImage.exitCode).toBe(1)
    expect(rmImage.stderr).toMatch(/^ctr: no image debian-bookworm/)
    expect(await readdir(layout(root).tmp)).toEqual([])

    // An import in progress holds its image's lock: the sweep leaves its staging dir alone.
    const live = start(root, ['images', 'import', '-', '--distro', 'debian'])
    const head = feed(live, 60 * 1024 * 1024)
    await until('the live import to unpack', async () => existsSync(staging) && (await du(staging)) > 30 * MB)
    const other = await ctr(root, ['rm', 'ghost', '--force'])
    expect(other.stderr).toMatch(/no container named ghost/)
    expect(existsSync(staging)).toBe(true)
    await head
    createReadStream(archive, {start: 60 * 1024 * 1024}).pipe(live.stdin!)
    expect(await live.exited).toBe(0)
    expect(await imageIds(root)).toEqual(['debian-bookworm'])
    expect(await readdir(layout(root).tmp)).toEqual([])
  })
})
