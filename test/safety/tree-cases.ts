/**
 * Hostile trees: a base (or a container's tree) whose /etc, /etc/ssh, /etc/systemd/system or
 * /root/.ssh is a symlink to a host path, or that holds a self-link, then create, expose, unexpose,
 * update and import run on it. Writes must stay inside the tree (or be refused in one line); a
 * loop must fail with ELOOP, not hang.
 */
import {mkdir, rename, rm, symlink} from 'node:fs/promises'
import {join} from 'node:path'
import {execa} from 'execa'
import {CTR} from '../helpers/cli.js'
import type {Case} from './harness.js'
import {BASE_ID, type Context, containerTree, type Group, plantLink, rootWithContainer} from './context.js'

export function treeCases(ctx: Context): Group {
  const {P} = ctx
  const k = ['--ssh-key', ctx.keys.pub]
  // One copy of the base (outside the root) for all hostile bases, each link undone before the next.
  const hostile = join(ctx.work, 'hostile-image')
  let undo: (() => Promise<void>) | undefined
  const hostileBase = async (path: string, target: string) => {
    await ctx.s.emptyRoot()
    await undo?.()
    const tree = join(hostile, 'tree')
    const saved = join(tree, `${path}.safety-orig`)
    // The base may not have the file at all (minbase has no /etc/hosts): then there is nothing to keep.
    const had = await rename(join(tree, path), saved).then(
      () => true,
      (error: NodeJS.ErrnoException) => {
        if (error.code === 'ENOENT') return false
        throw error
      },
    )
    await symlink(target, join(tree, path))
    undo = async () => {
      await rm(join(tree, path), {force: true})
      if (had) await rename(saved, join(tree, path))
      undo = undefined
    }
    await mkdir(join(ctx.root, 'images'), {recursive: true})
    await symlink(hostile, join(ctx.root, 'images', BASE_ID))
  }
  // Contained: made inside the tree (exit 0), or refused in one line.
  const createOn = (name: string, path: string, target: string): Case => ({
    name: `create on a base whose ${path} -> ${target}`,
    args: ['create', 'debian', 't1', ...k],
    expectExit: [0, 1],
    json: false,
    setup: () => hostileBase(path, target),
  })
  const inContainer = (name: string, args: string[], path: string, target: string, first?: string[]): Case => ({
    name,
    args,
    expectExit: [0, 1],
    json: false,
    setup: async () => {
      await rootWithContainer(ctx)
      if (first) await execa(CTR, [...first, '--root', ctx.root])
      await plantLink(await containerTree(ctx), path, target)
    },
  })
  const importTree = async (name: string, exclude: string, link: string, target: string): Promise<string> => {
    const file = join(ctx.work, `${name}.tar`)
    const staging = join(ctx.work, `${name}-staging`)
    await mkdir(join(staging, link, '..'), {recursive: true})
    await symlink(target, join(staging, link))
    await execa('tar', ['-C', join(ctx.cache, 'images', BASE_ID, 'tree'), `--exclude=./${exclude}`, '-cf', file, '.'])
    await execa('tar', ['-C', staging, '-rf', file, `./${link}`])
    return file
  }
  return {
    name: 'hostile trees',
    before: async () => {
      await execa('cp', ['-a', '--reflink=auto', join(ctx.cache, 'images', BASE_ID), hostile])
      await importTree('tree-etc-ssh', 'etc/ssh', 'etc/ssh', `${P}/victim`)
      await importTree('tree-os-release', 'etc/os-release', 'etc/os-release', 'os-release')
      await importTree('tree-machine-id', 'etc/machine-id', 'etc/machine-id', `${P}/victim/machine-id`)
    },
    after: async () => {
      await ctx.s.emptyRoot()
      await rm(hostile, {recursive: true, force: true})
    },
    cases: [
      createOn('ssh', 'etc/ssh', `${P}/victim`),
      createOn('root-ssh', 'root/.ssh', `${P}/victim2`),
      createOn('etc', 'etc', `${P}/etcdir`),
      createOn('units', 'etc/systemd/system', '/etc/systemd/system'),
      createOn('host-root-ssh', 'root/.ssh', '/root/.ssh'),
      createOn('host-etc-ssh', 'etc/ssh', '/etc/ssh'),
      createOn('relative', 'etc/ssh', `../../../../../../..${P}/victim`),
      {
        name: 'create on a base with the self-link /etc/hosts -> hosts (ELOOP, no hang)',
        args: ['create', 'debian', 't2', ...k],
        expectExit: 1,
        message: /loop|symbolic links|ELOOP/i,
        timeoutMs: 45_000,
        setup: () => hostileBase('etc/hosts', 'hosts'),
      },
      // Containers made clean, then their tree changed (as root inside could) before ctr writes into it.
      inContainer('expose into a tree whose etc/systemd/system -> P/victim', ['expose', '2393', 'ssh', '-c', 'c1'], 'etc/systemd/system', `${P}/victim`),
      inContainer('expose into a tree whose etc/systemd/system -> /etc/systemd/system', ['expose', '2393', 'ssh', '-c', 'c1'], 'etc/systemd/system', '/etc/systemd/system'),
      inContainer('expose into a tree whose sockets.target.wants -> P/victim2', ['expose', '2393', 'ssh', '-c', 'c1'], 'etc/systemd/system/sockets.target.wants', `${P}/victim2`),
      inContainer('unexpose in a tree whose etc/systemd/system -> P/victim', ['unexpose', '2394', '-c', 'c1'], 'etc/systemd/system', `${P}/victim`, ['expose', '2394', 'ssh', '-c', 'c1']),
      inContainer('update --profile full in a tree whose etc/systemd/system -> P/victim', ['update', 'c1', '--profile', 'full'], 'etc/systemd/system', `${P}/victim`),
      inContainer('update --profile full in a tree whose etc/systemd -> /etc/systemd', ['update', 'c1', '--profile', 'full'], 'etc/systemd', '/etc/systemd'),
      inContainer('update --profile full in a tree whose etc/systemd/system-generators is a self-link', ['update', 'c1', '--profile', 'full'], 'etc/systemd/system-generators', 'system-generators'),
      {
        name: 'import a base whose /etc/ssh -> P/victim (host keys removed through it?)',
        args: ['images', 'import', join(ctx.work, 'tree-etc-ssh.tar'), '--distro', 'debian'],
        expectExit: [0, 1],
        json: false,
        timeoutMs: 90_000,
        setup: () => ctx.s.emptyRoot(),
      },
      {
        name: 'import a base whose /etc/machine-id -> P/victim/machine-id',
        args: ['images', 'import', join(ctx.work, 'tree-machine-id.tar'), '--distro', 'debian'],
        expectExit: [0, 1],
        json: false,
        timeoutMs: 90_000,
        setup: () => ctx.s.emptyRoot(),
      },
      {
        name: 'import a base with the self-link /etc/os-release -> os-release (no hang)',
        args: ['images', 'import', join(ctx.work, 'tree-os-release.tar'), '--distro', 'debian'],
        expectExit: 1,
        message: /loop|symbolic links|ELOOP/i,
        timeoutMs: 60_000,
        setup: () => ctx.s.emptyRoot(),
      },
    ],
  }
}
