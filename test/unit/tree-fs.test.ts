import {lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {mkdirInTree, readInTree, resolveInTree, symlinkInTree, writeInTree} from '../../src/rootfs/tree-fs.js'

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
    // /etc -> the host's /etc (here: a directory outside the tree, by absolute path)
    await symlink(outside, join(tree, 'etc'))
    await writeInTree(tree, '/etc/hostname', 'container\n')
    expect(await readFile(join(outside, 'hostname'), 'utf8')).toBe('the-host\n')
    // The absolute target is taken inside the tree: TREE + outside path.
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
