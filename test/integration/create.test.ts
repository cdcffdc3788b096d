/**
 * ctr create with the real tools: the base is bootstrapped by the real debootstrap (once per run),
 * containers are real overlays, one is booted with systemd-nspawn -b and a real ssh logs in on
 * the socket unit's port, which the container's own systemd binds.
 */
import {spawn} from 'node:child_process'
import {readFile, readdir, stat, symlink} from 'node:fs/promises'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {createContainer} from '../../src/containers/create.js'
import {imagePaths, containerPaths} from '../../src/store/paths.js'
import {nspawnArgv} from '../../src/nspawn/argv.js'
import {ctr} from '../helpers/cli.js'
import {makeTestRoot, skipReason, stopPid, tearDown} from '../helpers/roots.js'
import {makeKeyPair, sshWhenUp} from '../helpers/ssh.js'

const reason = skipReason()
if (reason) console.warn(`test/integration/create.test.ts: ${reason}`)
const PORT = 20000 + (process.pid % 5000)

describe.skipIf(reason)('ctr create (real debootstrap, real nspawn, real ssh)', () => {
  let root: string
  let keys: Awaited<ReturnType<typeof makeKeyPair>>

  beforeAll(async () => {
    keys = await makeKeyPair()
    root = await makeTestRoot()
  })
  afterAll(() => tearDown({root, keys}))

  it('the cached base carries no host keys and no machine id', async () => {
    const tree = imagePaths(root, 'debian-bookworm').tree
    expect((await readdir(join(tree, 'etc/ssh'))).filter((f) => f.startsWith('ssh_host_'))).toEqual([])
    expect(await readFile(join(tree, 'etc/machine-id'), 'utf8')).toBe('')
  })

  it('gives each container its own identity, keys and socket-activated sshd', async () => {
    const a = await createContainer(root, {distro: 'debian', name: 'ida', sshKeyFiles: [keys.pub]})
    const b = await createContainer(root, {distro: 'debian', name: 'idb', sshKeyFiles: [keys.pub]})
    const read = (tree: string, path: string) => readFile(join(tree, path), 'utf8')
    expect(await read(a.rootfs, 'etc/hostname')).toBe('ida\n')
    expect(await read(a.rootfs, 'etc/machine-id')).toMatch(/^[0-9a-f]{32}\n$/)
    expect(await read(a.rootfs, 'etc/machine-id')).not.toBe(await read(b.rootfs, 'etc/machine-id'))
    for (const type of ['ed25519', 'ecdsa', 'rsa']) {
      expect(await read(a.rootfs, `etc/ssh/ssh_host_${type}_key.pub`)).not.toBe(await read(b.rootfs, `etc/ssh/ssh_host_${type}_key.pub`))
      expect((await stat(join(a.rootfs, `etc/ssh/ssh_host_${type}_key`))).mode & 0o777).toBe(0o600)
    }
    expect(await read(a.rootfs, 'root/.ssh/authorized_keys')).toBe(await readFile(keys.pub, 'utf8'))
    // Nothing exposed yet, so no socket unit: `ctr expose` or --ssh-port writes the pair.
    await expect(stat(join(a.rootfs, 'etc/systemd/system/ctr-ssh.socket'))).rejects.toMatchObject({code: 'ENOENT'})
    // The always-on sshd is masked: it would take the host's port 22.
    const {readlink} = await import('node:fs/promises')
    expect(await readlink(join(a.rootfs, 'etc/systemd/system/ssh.service'))).toBe('/dev/null')
    // ...and so is Fedora's name for it.
    expect(await readlink(join(a.rootfs, 'etc/systemd/system/sshd.service'))).toBe('/dev/null')
    // Overlay: the base is shared, only the container's own files are in its upper dir.
    expect(a.container.storage).toBe('overlay')
    expect(a.bootstrapped).toBe(false)
  })

  it('boots under systemd-nspawn -b and a real ssh logs in on the socket unit\'s port', async () => {
    const {rootfs} = await createContainer(root, {distro: 'debian', name: 'boot', sshKeyFiles: [keys.pub], ports: [{port: PORT, service: 'ssh'}]})
    expect(await readFile(join(rootfs, 'etc/systemd/system/ctr-ssh.socket'), 'utf8')).toContain(`ListenStream=${PORT}\nAccept=yes`)
    expect(await readFile(join(rootfs, 'etc/systemd/system/ctr-ssh@.service'), 'utf8')).toContain('ExecStart=-/usr/sbin/sshd -i')
    const {readlink} = await import('node:fs/promises')
    expect(await readlink(join(rootfs, 'etc/systemd/system/sockets.target.wants/ctr-ssh.socket'))).toBe('/etc/systemd/system/ctr-ssh.socket')
    const argv = nspawnArgv({tree: rootfs, machine: 'boot', hostHasSystemd: false})
    const nspawn = spawn(argv[0], argv.slice(1), {stdio: 'ignore'})
    try {
      const result = await sshWhenUp(keys.key, PORT, 'cat /etc/hostname; systemctl is-active ctr-ssh.socket')
      expect(result.stdout).toBe('boot\nactive')
      expect(result.exitCode).toBe(0)
    } finally {
      await stopPid(nspawn.pid!)
    }
  })

  it('a warm create takes seconds and little disk', async () => {
    const started = Date.now()
    const report = await createContainer(root, {distro: 'debian', name: 'warm', sshKeyFiles: [keys.pub]})
    expect(report.bootstrapped).toBe(false)
    // Generous bound for a loaded CI machine; `npm run bench` measures the real figure.
    expect(Date.now() - started).toBeLessThan(15_000)
    const {execa} = await import('execa')
    const {stdout} = await execa('du', ['-sxb', containerPaths(root, 'warm').upper])
    expect(Number(stdout.split(/\s/)[0])).toBeLessThan(20_000_000)
  })

  it('--copy makes a full copy instead of an overlay', async () => {
    const report = await createContainer(root, {distro: 'debian', name: 'copied', sshKeyFiles: [keys.pub], copy: true})
    expect(report.container.storage).toBe('copy')
    expect(await readFile(join(report.rootfs, 'etc/hostname'), 'utf8')).toBe('copied\n')
    expect((await stat(join(report.rootfs, 'usr/sbin/sshd'))).isFile()).toBe(true)
  })

  it('never writes the host\'s files through an /etc symlink in the tree', async () => {
    // A base whose /etc points at the host's /etc: ctr must write TREE/etc, not /etc.
    const evil = imagePaths(root, 'debian-evil')
    const {mkdir, writeFile} = await import('node:fs/promises')
    await mkdir(evil.tree, {recursive: true})
    await symlink('/etc', join(evil.tree, 'etc'))
    const hostHostname = await readFile('/etc/hostname', 'utf8').catch(() => undefined)
    const {customizeTree} = await import('../../src/rootfs/customize.js')
    await expect(
      customizeTree(evil.tree, {
        record: {name: 'evil', distro: 'debian', release: 'x', image: 'debian-evil', storage: 'copy', profile: 'full', createdAt: '', ports: [], idleTimeoutSec: 0},
        authorizedKeys: [],
        tmpDir: root,
      }),
    ).rejects.toMatchObject({code: 'UNSAFE_PATH'})
    expect(await readFile('/etc/hostname', 'utf8').catch(() => undefined)).toBe(hostHostname)
    await writeFile(join(root, 'done'), '')
  })

  it('ctr update switches the boot profile and the idle timeout', async () => {
    const {updateContainer} = await import('../../src/containers/update.js')
    const {readlink} = await import('node:fs/promises')
    const {rootfs, container} = await createContainer(root, {distro: 'debian', name: 'upd', sshKeyFiles: [keys.pub], ports: [{port: PORT + 1, service: 'ssh'}]})
    expect(container.profile).toBe('lean')
    expect(await readlink(join(rootfs, 'etc/systemd/system/default.target'))).toBe('/etc/systemd/system/ctr-lean.target')
    // No /run/nologin in a lean boot: nothing there would remove it, and pam_nologin would complain.
    expect(await readlink(join(rootfs, 'etc/tmpfiles.d/systemd-nologin.conf'))).toBe('/dev/null')
    // Small journal files: a journal's hash table, which journald keeps mapped, grows with the limit.
    expect(await readFile(join(rootfs, 'etc/systemd/journald.conf.d/ctr-lean.conf'), 'utf8')).toMatch(/^SystemMaxFileSize=2M$/m)
    // journald may be stopped while the container is quiet (its sockets start it again).
    expect(await readFile(join(rootfs, 'etc/systemd/system/systemd-journald.service.d/ctr-lean.conf'), 'utf8')).toMatch(/^RefuseManualStop=no$/m)
    expect(await readFile(join(rootfs, 'etc/systemd/system/ctr-ssh.socket'), 'utf8')).toContain('DefaultDependencies=no')
    const report = await updateContainer(root, 'upd', {profile: 'full', idleTimeoutSec: 30})
    expect(report.changed).toEqual(['idle-timeout', 'profile'])
    expect(report.container).toMatchObject({profile: 'full', idleTimeoutSec: 30})
    await expect(readlink(join(rootfs, 'etc/systemd/system/default.target'))).rejects.toMatchObject({code: 'ENOENT'})
    await expect(readlink(join(rootfs, 'etc/systemd/system/getty@.service'))).rejects.toMatchObject({code: 'ENOENT'})
    await expect(readlink(join(rootfs, 'etc/tmpfiles.d/systemd-nologin.conf'))).rejects.toMatchObject({code: 'ENOENT'})
    await expect(readFile(join(rootfs, 'etc/systemd/journald.conf.d/ctr-lean.conf'))).rejects.toMatchObject({code: 'ENOENT'})
    await expect(readFile(join(rootfs, 'etc/systemd/system/systemd-journald.service.d/ctr-lean.conf'))).rejects.toMatchObject({code: 'ENOENT'})
    expect(await readFile(join(rootfs, 'etc/systemd/system/ctr-ssh.socket'), 'utf8')).not.toContain('DefaultDependencies=no')
  })

  describe('the CLI', () => {
    it('lists containers as a table and as JSON', async () => {
      const table = await ctr(root, ['ls'])
      expect(table.exitCode).toBe(0)
      expect(table.stdout).toMatch(/ida/)
      const json = await ctr(root, ['ls', '--json'])
      const names = JSON.parse(json.stdout).containers.map((c: {name: string}) => c.name)
      expect(names).toEqual(expect.arrayContaining(['ida', 'idb', 'boot', 'warm', 'copied']))
    })

    it('lists the cached base with its size and users', async () => {
      const result = await ctr(root, ['images', '--json'])
      const images = JSON.parse(result.stdout)
      const base = images.find((i: {id: string}) => i.id === 'debian-bookworm')
      expect(base.sizeBytes).toBeGreaterThan(100_000_000)
      expect(base.usedBy).toContain('ida')
      const refused = await ctr(root, ['images', 'rm', 'debian-bookworm'])
      expect(refused.exitCode).toBe(1)
      expect(refused.stderr).toMatch(/^ctr: image debian-bookworm is used by /)
    })

    it.each([
      [['create', 'debian', 'Bad_Name'], 2, /^ctr: invalid container name "Bad_Name"/],
      [['create', 'debian', 'ida'], 1, /^ctr: a container named ida already exists/],
      [['create', 'arch', 'x'], 2, /^ctr: unknown distro "arch"\n  known distros: debian, fedora/],
      [['rm', '--force', 'nosuch'], 1, /^ctr: no container named nosuch\n/],
      [['create', 'debian', 'clash', '--ssh-port', String(PORT)], 1, new RegExp(`^ctr: port ${PORT} is exposed by boot already`)],
      [['create', 'debian', 'clash', '--ssh-port', '70000'], 2, /^ctr: invalid port "70000"/],
      [['expose', '0', 'ssh', '-c', 'ida'], 2, /^ctr: invalid port "0"/],
    ])('%j fails with one clear line', async (args, code, pattern) => {
      const result = await ctr(root, args as string[])
      expect(result.exitCode).toBe(code)
      expect(result.stderr).toMatch(pattern)
      expect(result.stderr).not.toMatch(/\n\s+at /) // no stack trace without --debug
    })

    it('--json errors carry a stable code', async () => {
      const result = await ctr(root, ['create', 'debian', 'Bad_Name', '--json'])
      expect(JSON.parse(result.stdout)).toEqual({error: expect.objectContaining({code: 'INVALID_NAME'})})
    })

    it('an unreachable mirror fails cleanly and leaves no base or container behind', async () => {
      const result = await ctr(root, ['create', 'debian', 'nomirror', '--release', 'trixie', '--mirror', 'http://127.0.0.1:9/debian'])
      expect(result.exitCode).toBe(1)
      expect(result.stderr).toMatch(/^ctr: the mirror could not be reached/)
      const images = JSON.parse((await ctr(root, ['images', '--json'])).stdout).map((i: {id: string}) => i.id)
      expect(images).not.toContain('debian-trixie')
      expect(await readdir(join(root, 'containers'))).not.toContain('nomirror')
      expect(await readdir(join(root, 'tmp')).catch(() => [])).toEqual([])
    })

    it('Ctrl-C during the bootstrap removes the half-made base', async () => {
      const {execa} = await import('execa')
      const {CTR} = await import('../helpers/cli.js')
      const child = execa(CTR, ['create', 'debian', 'interrupted', '--release', 'bullseye', '--root', root], {reject: false})
      // Wait until debootstrap is really at work, then interrupt as a terminal would.
      for (let i = 0; i < 200; i++) {
        if ((await readdir(join(root, 'tmp')).catch(() => [])).some((d) => d.startsWith('image-'))) break
        await new Promise((r) => setTimeout(r, 100))
      }
      await new Promise((r) => setTimeout(r, 3000))
      child.kill('SIGINT')
      const result = await child
      expect(result.exitCode).toBe(130)
      expect(result.stderr).toMatch(/interrupted; nothing was kept/)
      expect(await readdir(join(root, 'tmp'))).toEqual([])
      expect(await readdir(join(root, 'images'))).not.toContain('debian-bullseye')
    })

    it('rm --force removes containers and unmounts them', async () => {
      const result = await ctr(root, ['rm', '--force', 'idb', 'copied'])
      expect(result.exitCode).toBe(0)
      expect(await readdir(join(root, 'containers'))).not.toContain('idb')
      const mounts = await readFile('/proc/self/mountinfo', 'utf8')
      expect(mounts).not.toContain(containerPaths(root, 'idb').rootfs)
    })
  })
})
