import {spawn} from 'node:child_process'
import {lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile} from 'node:fs/promises'
import {execa} from 'execa'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {listInTree, mkdirInTree, readInTree, removeInTree, resolveInTree, symlinkInTree, writeInTree} from '../../src/rootfs/tree-fs.js'

let dir: string
let tree: string
let outside: string

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ctr-treefs-'))
  tree = join(dir, 'tree')
  outside = join(dir, 'host-etc')
  await mkdir(tree)
  await mkdir(outside)
  await writeFile(join(outside, 'hostname'), 'the-host\n')
})
afterEach(() => rm(dir, {recursive: true, force: true}))

describe('writing into a tree', () => {
  it('writes a file and creates its directories', async () => {
    await writeInTree(tree, '/etc/ssh/sshd_config.d/x.conf', 'a\n', 0o600)
    expect(await readFile(join(tree, 'etc/ssh/sshd_config.d/x.conf'), 'utf8')).toBe('a\n')
    expect((await lstat(join(tree, 'etc/ssh/sshd_config.d/x.conf'))).mode & 0o777).toBe(0o600)
  })

  it('never follows an absolute /etc symlink to the host', async () => {
    // /etc -> the host's /etc (here: a directory outside the tree, by absolute path). Inside the
    // tree that target is TREE + path: written there when it exists, refused when it does not.
    await symlink(outside, join(tree, 'etc'))
    await expect(writeInTree(tree, '/etc/hostname', 'container\n')).rejects.toMatchObject({code: 'UNSAFE_PATH'})
    await mkdir(join(tree, outside), {recursive: true})
    await writeInTree(tree, '/etc/hostname', 'container\n')
    expect(await readFile(join(outside, 'hostname'), 'utf8')).toBe('the-host\n')
    expect(await readFile(join(tree, outside, 'hostname'), 'utf8')).toBe('container\n')
  })

  it('stops ".." at the tree root', async () => {
    await symlink('../../../..', join(tree, 'up'))
    await writeInTree(tree, '/up/etc/passwd', 'x\n')
    expect(await readFile(join(tree, 'etc/passwd'), 'utf8')).toBe('x\n')
    expect(await resolveInTree(tree, '/up/../../etc/passwd')).toBe(join(tree, 'etc/passwd'))
  })

  it('follows relative symlinks that stay inside (merged /usr)', async () => {
    await mkdir(join(tree, 'usr/lib'), {recursive: true})
    await symlink('usr/lib', join(tree, 'lib'))
    await writeInTree(tree, '/lib/systemd/system/x.service', '[Unit]\n')
    expect(await readFile(join(tree, 'usr/lib/systemd/system/x.service'), 'utf8')).toBe('[Unit]\n')
  })

  it('replaces a final symlink instead of writing through it', async () => {
    await mkdir(join(tree, 'etc'))
    await symlink(join(outside, 'hostname'), join(tree, 'etc/hostname'))
    await writeInTree(tree, '/etc/hostname', 'container\n')
    expect(await readFile(join(outside, 'hostname'), 'utf8')).toBe('the-host\n')
    expect((await lstat(join(tree, 'etc/hostname'))).isFile()).toBe(true)
  })

  it('fails on a symlink loop instead of escaping', async () => {
    await symlink('/etc', join(tree, 'etc'))
    await expect(writeInTree(tree, '/etc/hostname', 'x')).rejects.toMatchObject({code: 'UNSAFE_PATH'})
  })

  it('makes links like systemctl enable and mask, and reads through links inside', async () => {
    await symlinkInTree(tree, '/etc/systemd/system/ssh.service', '/dev/null')
    expect(await readlink(join(tree, 'etc/systemd/system/ssh.service'))).toBe('/dev/null')
    await mkdirInTree(tree, '/srv')
    await writeInTree(tree, '/srv/real', 'data')
    await symlinkInTree(tree, '/srv/link', '/srv/real')
    expect(await readInTree(tree, '/srv/link')).toBe('data')
    expect(await readInTree(tree, '/srv/missing')).toBeUndefined()
  })
})

describe('a tree that changes under ctr (a running container)', () => {
  it('never writes outside while a directory is swapped for a symlink out of the tree, again and again', async () => {
    const units = join(tree, 'etc/systemd/system')
    await mkdir(units, {recursive: true})
    // The hostile container: etc/systemd/system becomes a relative link that, followed on the host,
    // is DIR/host-etc; then a directory again; as fast as a shell can.
    // perl (in every Debian) swaps in a tight loop, a few microseconds a step, and goes on whatever
    // a step finds (a directory ctr made meanwhile is moved aside too).
    const swap = 'for (my $n = 0; ; $n++) { rename "system", "d$n"; symlink "../../../host-etc", "system"; unlink "system"; rename "d$n", "system" }'
    const swapper = spawn('perl', ['-e', `chdir "${join(tree, 'etc/systemd')}" or die; ${swap}`], {stdio: 'ignore'})
    let written = 0
    try {
      for (let i = 0; i < 400; i++) {
        await writeInTree(tree, `/etc/systemd/system/u${i}.service`, '[Unit]\n')
          .then(() => written++)
          .catch(() => {})
        await symlinkInTree(tree, `/etc/systemd/system/l${i}.socket`, '/dev/null').catch(() => {})
      }
    } finally {
      swapper.kill('SIGKILL')
      await new Promise((r) => swapper.once('exit', r))
    }
    expect(await readdir(outside)).toEqual(['hostname'])
    expect(written).toBeGreaterThan(0)
  })

  it('fails with ELOOP on a self-link instead of hanging', async () => {
    await mkdir(join(tree, 'etc'))
    await symlink('hosts', join(tree, 'etc/hosts'))
    await expect(readInTree(tree, '/etc/hosts')).rejects.toMatchObject({code: 'UNSAFE_PATH', message: expect.stringContaining('ELOOP')})
    await symlink('/etc/loop', join(tree, 'etc/loop'))
    await expect(writeInTree(tree, '/etc/loop/x', 'x')).rejects.toMatchObject({code: 'UNSAFE_PATH', message: expect.stringContaining('ELOOP')})
  })

  it('does not read a fifo (which would block) or a device', async () => {
    await mkdir(join(tree, 'etc'))
    await execa('mkfifo', [join(tree, 'etc/hosts')])
    await expect(readInTree(tree, '/etc/hosts')).rejects.toMatchObject({code: 'UNSAFE_PATH'})
    await symlink('/dev/zero', join(tree, 'etc/zero'))
    await expect(readInTree(tree, '/etc/zero')).resolves.toBeUndefined()
  })

  it('removes a directory by fds, and a link to a directory as a link', async () => {
    await mkdir(join(tree, 'srv/a/b'), {recursive: true})
    await writeFile(join(tree, 'srv/a/b/f'), 'x')
    await symlink(outside, join(tree, 'srv/a/out'))
    await removeInTree(tree, '/srv/a')
    expect(await readdir(join(tree, 'srv'))).toEqual([])
    expect(await readdir(outside)).toEqual(['hostname'])
    expect(await listInTree(tree, '/srv')).toEqual([])
    expect(await listInTree(tree, '/nope')).toEqual([])
  })
})
