/**
 * Bases as tar archives, with the real CLI: the run's debootstrapped base is exported, imported
 * into empty state roots (from the file, and over http from a server on loopback), compared entry
 * by entry with the original, and a container made from the import boots and a real ssh logs in.
 */
import {spawn} from 'node:child_process'
import {lstat, mkdtemp, readdir, readlink, rm, writeFile} from 'node:fs/promises'
import {createReadStream} from 'node:fs'
import {createServer, type Server} from 'node:http'
import type {AddressInfo} from 'node:net'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {startActivator} from '../../src/activator/server.js'
import {startContainers} from '../../src/containers/lifecycle.js'
import {imagePaths, layout} from '../../src/store/paths.js'
import {CTR, ctr} from '../helpers/cli.js'
import {freePort} from '../helpers/ports.js'
import {destroyTestRoot, makeTestRoot, skipReason} from '../helpers/roots.js'
import {makeKeyPair, ssh} from '../helpers/ssh.js'

const reason = skipReason()
if (reason) console.warn(`test/integration/images.test.ts: ${reason}`)

const ID = 'debian-bookworm'

/** mode, owner, size, link target and link count of every entry under DIR (device nodes left out). */
async function listing(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  const walk = async (rel: string) => {
    for (const name of await readdir(join(dir, rel))) {
      const path = rel ? `${rel}/${name}` : name
      const info = await lstat(join(dir, path))
      if (info.isCharacterDevice() || info.isBlockDevice() || info.isFIFO() || info.isSocket()) continue
      const target = info.isSymbolicLink() ? await readlink(join(dir, path)) : ''
      out.set(path, `${info.mode.toString(8)} ${info.uid}:${info.gid} ${info.isFile() ? info.size : 0} ${info.isFile() ? info.nlink : 0} ${target}`)
      if (info.isDirectory()) await walk(path)
    }
  }
  await walk('')
  return out
}

describe.skipIf(reason)('ctr images export / import (real base, real CLI, real boot)', () => {
  let source: string
  const roots: string[] = []
  let work: string
  let archive: string
  let server: Server | undefined
  let keys: Awaited<ReturnType<typeof makeKeyPair>>

  const emptyRoot = async () => {
    const root = await mkdtemp('/var/tmp/ctr-test-root-')
    roots.push(root)
    return root
  }
  /** Nothing half-made: no image and nothing left in ROOT/tmp. */
  const nothingKept = async (root: string) => {
    // (.ID.lock, the flock file of the image being made, may stay: it is not an image.)
    expect((await readdir(layout(root).images).catch(() => [])).filter((n) => !n.startsWith('.'))).toEqual([])
    expect(await readdir(layout(root).tmp).catch(() => [])).toEqual([])
  }

  beforeAll(async () => {
    keys = await makeKeyPair()
    source = await makeTestRoot()
    work = await mkdtemp('/var/tmp/ctr-test-archives-')
    archive = join(work, `${ID}.tar`)
  })

  afterAll(async () => {
    server?.close()
    for (const root of [source, ...roots]) if (root) await destroyTestRoot(root)
    if (work) await rm(work, {recursive: true, force: true})
    if (keys) await rm(keys.dir, {recursive: true, force: true})
  })

  it('exports the base to a tar file', async () => {
    const result = await ctr(source, ['images', 'export', ID, '-o', archive, '--json'])
    expect(result.stderr).toBe('')
    expect(result.exitCode).toBe(0)
    const report = JSON.parse(result.stdout)
    expect(report).toMatchObject({id: ID, output: archive})
    expect(report.bytes).toBeGreaterThan(100e6)
    expect((await lstat(archive)).size).toBe(report.bytes)
    const {stdout} = await execa('tar', ['-tvf', archive, './usr/lib/systemd/systemd', './etc/alternatives/awk'])
    expect(stdout).toMatch(/^-rwxr-xr-x 0\/0 .* \.\/usr\/lib\/systemd\/systemd$/m)
    expect(stdout).toMatch(/\.\/etc\/alternatives\/awk -> \/usr\/bin\/mawk/)
  })

  it('imports it into an empty root as the same tree: modes, owners, links, setuid bits', async () => {
    const root = await emptyRoot()
    const result = await ctr(root, ['images', 'import', archive, '--distro', 'debian', '--json'])
    expect(result.stderr).toBe('')
    expect(result.exitCode).toBe(0)
    expect(JSON.parse(result.stdout)).toMatchObject({id: ID, distro: 'debian', release: 'bookworm', importedFrom: archive})
    const original = await listing(imagePaths(source, ID).tree)
    const imported = await listing(imagePaths(root, ID).tree)
    const differing = [...new Set([...original.keys(), ...imported.keys()])].filter((k) => original.get(k) !== imported.get(k))
    expect(differing).toEqual([])
    // setuid root, and setgid shadow (which a chown would have cleared).
    expect(imported.get('usr/bin/su')).toMatch(/^104755 0:0 /)
    expect(imported.get('usr/sbin/unix_chkpwd')).toMatch(/^102755 0:42 /)
    expect(await readdir(layout(root).tmp)).toEqual([])
  })

  it('a container made from the import boots on a connection and a real ssh logs in', async () => {
    const root = roots[0]
    const port = freePort(23000, 17)
    const created = await ctr(root, ['create', 'debian', 'imp', '--ssh-key', keys.pub, '--ssh-port', String(port)])
    expect(created.stderr).toBe('')
    expect(created.stdout).not.toMatch(/bootstrap/)
    const activator = await startActivator({root, stopTimeoutMs: 20_000})
    try {
      expect((await startContainers(root, ['imp'], {now: false})).items[0].error).toBeUndefined()
      const login = await ssh(keys.key, port, 'cat /etc/hostname; stat -c %a /usr/bin/su')
      expect(login.stderr).toBe('')
      expect(login.stdout).toBe('imp\n4755')
    } finally {
      await activator.close()
    }
  })

  it('imports over http (got) from a server on loopback', async () => {
    server = createServer((request, response) => {
      if (request.url !== `/${ID}.tar`) {
        response.writeHead(404).end()
        return
      }
      response.writeHead(200, {'content-type': 'application/x-tar'})
      createReadStream(archive).pipe(response)
    })
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const root = await emptyRoot()
    const result = await ctr(root, ['images', 'import', `${base}/${ID}.tar`, '--distro', 'debian'])
    expect(result.stderr).toBe('')
    expect(result.stdout).toMatch(new RegExp(`^imported ${ID} \\(\\d+ MB\\); ctr create debian NAME uses it$`))
    expect(result.exitCode).toBe(0)
    const missing = await ctr(await emptyRoot(), ['images', 'import', `${base}/nothing.tar`, '--distro', 'debian'])
    expect(missing.stderr).toMatch(new RegExp(`^ctr: ${base}/nothing.tar answered 404 Not Found\n`))
    expect(missing.exitCode).toBe(1)
    await nothingKept(roots.at(-1)!)
  })

  it('says what is wrong with a bad archive or source, and keeps nothing', async () => {
    const root = await emptyRoot()
    const notTar = join(work, 'not.tar')
    await writeFile(notTar, 'this is not a tar archive\n'.repeat(100))
    const bad = await ctr(root, ['images', 'import', notTar, '--distro', 'debian'])
    expect(bad.stderr).toMatch(/^ctr: .*not\.tar is not a tar archive \(plain or gzip\)\n/)
    expect(bad.exitCode).toBe(1)
    await nothingKept(root)
    // A tar of something that is not a root filesystem with systemd and sshd.
    const etc = join(work, 'etc-only.tar')
    await execa('tar', ['-cf', etc, '-C', imagePaths(source, ID).tree, './etc'])
    const noInit = await ctr(root, ['images', 'import', etc, '--distro', 'debian'])
    expect(noInit.stderr).toMatch(/^ctr: .*etc-only\.tar has no \/usr\/lib\/systemd\/systemd: it needs systemd/)
    expect(noInit.exitCode).toBe(1)
    await nothingKept(root)
    // A tree is imported as what its os-release says it is.
    const osRelease = join(work, 'os-release.tar')
    await execa('tar', ['-cf', osRelease, '-C', imagePaths(source, ID).tree, './etc/os-release', './usr/lib/os-release'])
    const asFedora = await ctr(root, ['images', 'import', osRelease, '--distro', 'fedora'])
    expect(asFedora.stderr).toMatch(/^ctr: .*os-release\.tar is Debian GNU\/Linux 12 \(bookworm\), not fedora\n  import it as what it is: --distro debian --release bookworm$/)
    expect(asFedora.exitCode).toBe(1)
    const asTrixie = await ctr(root, ['images', 'import', osRelease, '--distro', 'debian', '--release', 'trixie'])
    expect(asTrixie.stderr).toMatch(/is Debian GNU\/Linux 12 \(bookworm\), not debian trixie/)
    await nothingKept(root)
    const refused = await ctr(root, ['images', 'import', 'http://127.0.0.1:1/x.tar', '--distro', 'debian'])
    expect(refused.stderr).toMatch(/^ctr: cannot download http:\/\/127\.0\.0\.1:1\/x\.tar: ECONNREFUSED\n/)
    expect(refused.exitCode).toBe(1)
    const nofile = await ctr(root, ['images', 'import', join(work, 'nope.tar'), '--distro', 'debian'])
    expect(nofile.stderr).toMatch(/^ctr: no such file: /)
    const distro = await ctr(root, ['images', 'import', archive, '--distro', 'arch'])
    expect(distro.stderr).toMatch(/^ctr: unknown distro "arch"/)
    expect(distro.exitCode).toBe(2)
    await nothingKept(root)
    const exists = await ctr(roots[0], ['images', 'import', archive, '--distro', 'debian'])
    expect(exists.stderr).toMatch(new RegExp(`^ctr: image ${ID} exists already\n  remove it first`))
    const noImage = await ctr(source, ['images', 'export', 'fedora-40', '-o', join(work, 'f.tar')])
    expect(noImage.stderr).toMatch(/^ctr: no image fedora-40/)
  })

  it('ctr create fedora runs the real dnf; these hosts cannot reach its mirrors: one line, the import way out, nothing kept', async () => {
    const root = await emptyRoot()
    const result = await ctr(root, ['create', 'fedora', 'f1'])
    expect(result.stderr).toMatch(/^ctr: the Fedora mirrors could not be reached\n/)
    expect(result.stderr).toContain('ctr images import FILE|URL --distro fedora')
    expect(result.exitCode).toBe(1)
    await nothingKept(root)
    expect(await readdir(layout(root).containers).catch(() => [])).toEqual([])
  })

  it('Ctrl-C during an import removes what was unpacked', async () => {
    const root = await emptyRoot()
    const child = spawn(CTR, ['images', 'import', archive, '--distro', 'debian', '--root', root], {stdio: ['ignore', 'pipe', 'pipe']})
    let stderr = ''
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
    // Interrupted once unpacking has begun.
    for (let i = 0; i < 200 && (await readdir(layout(root).tmp).catch(() => [])).length === 0; i++) await sleep(50)
    await sleep(500)
    child.kill('SIGINT')
    const code = await new Promise<number | null>((resolve) => child.once('exit', resolve))
    expect(stderr).toMatch(/interrupted; nothing was kept/)
    expect(code).toBe(130)
    await nothingKept(root)
  })
})
