/**
 * Hostile archives given to `ctr images import`: entries with `..` and absolute names, symlinks
 * and hard links out of the tree with files written through them, device nodes, self-links. Small
 * ones hold only the hostile entries (the import then fails for want of systemd, after unpacking:
 * what matters is that nothing outside the root was touched); others carry a whole real base, so
 * the import succeeds and the tree it made is checked as well.
 */
import {lstat, readFile, stat} from 'node:fs/promises'
import {join} from 'node:path'
import {execa} from 'execa'
import {type Entry, prependToTar, writeTar} from './archives.js'
import type {Case, RunResult} from './harness.js'
import {BASE_ID, type Context, type Group} from './context.js'

export function archiveCases(ctx: Context): Group {
  const {P, work} = ctx
  const tree = join(ctx.root, 'images', BASE_ID, 'tree')
  const files: Array<[string, Entry[]]> = []
  const archive = (name: string, entries: Entry[]) => {
    const file = join(work, `${name}.tar`)
    files.push([file, entries])
    return file
  }
  const overwrite = 'OVERWRITTEN BY A HOSTILE ARCHIVE\n'
  // Refused, or unpacked inside the staging tree and then refused for want of systemd: exit 1 either way.
  const small = (name: string, file: string, extra: Partial<Case> = {}): Case => ({
    name,
    args: ['images', 'import', file, '--distro', 'debian'],
    expectExit: 1,
    expectCode: /INVALID_IMAGE|UNSAFE_PATH/,
    timeoutMs: 45_000,
    setup: () => ctx.s.emptyRoot(),
    ...extra,
  })
  // With a real base: imported with the hostile entries left out or kept inside, or refused.
  const whole = (name: string, file: string, check: (r: RunResult) => Promise<string[]>): Case => ({
    name,
    args: ['images', 'import', file, '--distro', 'debian'],
    expectExit: [0, 1],
    expectCode: /INVALID_IMAGE|UNSAFE_PATH/,
    json: false,
    timeoutMs: 90_000,
    setup: () => ctx.s.emptyRoot(),
    check: async (r) => (r.exitCode === 0 ? check(r) : []),
  })
  const noSpecial = (...names: string[]) => async () => {
    const problems: string[] = []
    for (const n of names) {
      const info = await lstat(join(tree, n)).catch(() => undefined)
      if (info && (info.isCharacterDevice() || info.isBlockDevice() || info.isFIFO())) problems.push(`the imported tree has the device node or fifo /${n}`)
    }
    return problems
  }
  const notLinkedTo = (name: string, host: string) => async () => {
    const inTree = await lstat(join(tree, name)).catch(() => undefined)
    const onHost = await stat(host)
    return inTree && inTree.ino === onHost.ino && inTree.dev === onHost.dev ? [`/${name} in the tree is a hard link to the host's ${host}`] : []
  }
  const passwd = () => readFile('/etc/passwd')

  const cases: Case[] = [
    small('`..` entries reaching the victim', archive('dotdot', [
      {type: 'file', path: '../../../victim/keep.txt', data: overwrite},
      {type: 'file', path: `../../../../../../../..${P}/victim/planted`, data: overwrite},
      {type: 'dir', path: '../../../victim/newdir'},
    ])),
    small('absolute entries naming the victim', archive('absolute', [
      {type: 'file', path: `${P}/victim/keep.txt`, data: overwrite},
      {type: 'file', path: `${P}/victim2/planted`, data: overwrite},
    ])),
    small('symlink etc -> /etc, then etc/passwd through it', archive('etc-link', [
      {type: 'symlink', path: 'etc', target: '/etc'},
      // The host's own bytes: harmless if written through, and the snapshot sees the write.
      {type: 'file', path: 'etc/passwd', data: Buffer.alloc(0), mode: 0o644},
    ])),
    small('symlink esc -> P/victim, then esc/keep.txt through it', archive('abs-link', [
      {type: 'symlink', path: 'esc', target: `${P}/victim`},
      {type: 'file', path: 'esc/keep.txt', data: overwrite},
      {type: 'dir', path: 'esc/madedir'},
    ])),
    small('relative symlink with many `..`, then a file through it', archive('rel-link', [
      {type: 'symlink', path: 'up', target: `../../../../../../../../..${P}/victim2`},
      {type: 'file', path: 'up/keep.txt', data: overwrite},
    ])),
    small('symlink to P, then victim/keep.txt through it', archive('dir-link', [
      {type: 'symlink', path: 'p', target: P},
      {type: 'file', path: 'p/victim/keep.txt', data: overwrite},
    ])),
    small('hard link to /etc/shadow', archive('shadow-link', [{type: 'hardlink', path: 'shadow', target: '/etc/shadow'}])),
    small('hard link to P/sibling/file, then a file of that name', archive('hard-write', [
      {type: 'hardlink', path: 'hl', target: `${P}/sibling/file`},
      {type: 'file', path: 'hl', data: overwrite},
    ])),
    small('hard link with `..` to the sibling, then a file of that name', archive('hard-dotdot', [
      {type: 'hardlink', path: 'hl', target: '../../../sibling/file'},
      {type: 'file', path: 'hl', data: overwrite},
    ])),
    small('symlink then a hard link through it', archive('link-hard', [
      {type: 'symlink', path: 'esc', target: `${P}/victim`},
      {type: 'hardlink', path: 'esc/hl', target: 'esc/keep.txt'},
    ])),
    small('self-link etc/os-release -> os-release (must not hang)', archive('self-link', [
      {type: 'dir', path: 'etc'},
      {type: 'symlink', path: 'etc/os-release', target: 'os-release'},
    ]), {timeoutMs: 30_000}),
    small('symlink loop a -> b -> a under etc/os-release', archive('loop', [
      {type: 'symlink', path: 'a', target: 'b'},
      {type: 'symlink', path: 'b', target: 'a'},
      {type: 'dir', path: 'etc'},
      {type: 'symlink', path: 'etc/os-release', target: '/a'},
    ]), {timeoutMs: 30_000}),
    small('from standard input: symlink escape then a file through it', '-', {
      args: ['images', 'import', '-', '--distro', 'debian'],
      stdin: {file: join(work, 'abs-link.tar')},
    }),
    small('gzipped: absolute entries', join(work, 'absolute.tar.gz')),
    small('not a tar at all', join(work, 'garbage.bin'), {expectCode: 'INVALID_IMAGE', message: /not a tar/}),
    whole('a real base plus device nodes and a fifo', join(work, 'base-devices.tar'), noSpecial('evil-mem', 'evil-sda', 'evil-fifo')),
    whole('a real base plus a hard link to /etc/shadow', join(work, 'base-shadow.tar'), notLinkedTo('evil-shadow', '/etc/shadow')),
    whole('a real base plus an absolute symlink and a file through it', join(work, 'base-abs-link.tar'), async () => []),
  ]
  return {
    name: 'archives',
    before: async () => {
      const hostPasswd = await passwd()
      for (const [file, entries] of files) {
        await writeTar(file, entries.map((e) => (e.type === 'file' && e.path === 'etc/passwd' ? {...e, data: hostPasswd} : e)))
      }
      await execa('sh', ['-c', 'gzip -c "$1" > "$2"', 'sh', join(work, 'absolute.tar'), join(work, 'absolute.tar.gz')])
      await execa('sh', ['-c', 'head -c 100000 /dev/urandom > "$1"', 'sh', join(work, 'garbage.bin')])
      await prependToTar(join(work, 'base-devices.tar'), [
        {type: 'chr', path: 'evil-mem', major: 1, minor: 1, mode: 0o666},
        {type: 'blk', path: 'evil-sda', major: 8, minor: 0, mode: 0o666},
        {type: 'fifo', path: 'evil-fifo'},
      ], ctx.baseTar)
      await prependToTar(join(work, 'base-shadow.tar'), [{type: 'hardlink', path: 'evil-shadow', target: '/etc/shadow'}], ctx.baseTar)
      await prependToTar(join(work, 'base-abs-link.tar'), [
        {type: 'symlink', path: 'evil', target: `${P}/victim`},
        {type: 'file', path: 'evil/keep.txt', data: overwrite},
      ], ctx.baseTar)
    },
    after: () => ctx.s.emptyRoot(),
    cases,
  }
}
