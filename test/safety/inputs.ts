/**
 * Hostile command-line input to every command: names, releases, image ids, ports and addresses,
 * services, flag values, key files. All must be refused in one line (exit 2 for usage errors)
 * before anything is made, and reach nothing outside the state root.
 */
import {mkdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {execa} from 'execa'
import type {Case} from './harness.js'
import {type Context, type Group, rootWithContainer} from './context.js'

const refusedName = (name: string, args: string[]): Case => ({name, args, expectExit: 2, expectCode: 'INVALID_NAME', message: /name/})

export function nameCases(ctx: Context): Group {
  const k = ['--ssh-key', ctx.keys.pub]
  const create = (label: string, name: string) => refusedName(`create: name ${label}`, ['create', 'debian', name, ...k])
  return {
    name: 'names',
    before: () => rootWithContainer(ctx),
    cases: [
      create('../x', '../x'),
      create('../../victim', '../../victim'),
      create('x/y', 'x/y'),
      create('x- (ends in -)', 'x-'),
      create('of 64 characters', 'a'.repeat(64)),
      create('Upper', 'Upper'),
      create('empty', ''),
      create('unicode', 'ünïcödé'),
      create('.', '.'),
      // After `--`, "-x" is the name; without it oclif reads a flag (a parse error: one line too).
      {...refusedName('create: name -x (after --)', ['create', ...k, '--', 'debian', '-x'])},
      {name: 'create: -x read as an unknown flag', args: ['create', 'debian', '-x', ...k], expectExit: 2, message: /-x/},
      refusedName('rm: ../../victim', ['rm', '-f', '../../victim']),
      refusedName('rm: ..', ['rm', '-f', '..']),
      refusedName('start: ../../victim', ['start', '../../victim']),
      refusedName('stop: x/y', ['stop', 'x/y']),
      refusedName('logs: ../../victim', ['logs', '../../victim']),
      refusedName('update: ../../victim', ['update', '../../victim', '--idle-timeout', '5']),
      {...refusedName('shell: ../../victim', ['shell', '../../victim']), json: false},
      refusedName('expose -c ../../victim', ['expose', '2391', 'ssh', '-c', '../../victim']),
      refusedName('unexpose -c ../../victim', ['unexpose', '2391', '-c', '../../victim']),
    ],
  }
}

export function releaseCases(ctx: Context): Group {
  const notTar = join(ctx.work, 'not-a-tar.txt')
  const tiny = join(ctx.work, 'tiny.tar')
  const release = (name: string, args: string[], extra: Partial<Case> = {}): Case => ({name, args, expectExit: 2, expectCode: 'INVALID_ARGUMENT', message: /release/, ...extra})
  return {
    name: 'releases',
    before: async () => {
      await ctx.s.emptyRoot()
      await writeFile(notTar, 'this is not a tar archive\n')
      await execa('tar', ['-C', ctx.work, '-cf', tiny, 'not-a-tar.txt'])
    },
    cases: [
      // The exact repro: it deleted the victim dir and left victim.lock beside it.
      release("create --release 'x/../../../victim' --mirror http://127.0.0.1:1/", ['create', 'debian', 'r1', '--release', 'x/../../../victim', '--mirror', 'http://127.0.0.1:1/', '--ssh-key', ctx.keys.pub]),
      release("images import NOT-A-TAR --release 'x/../../../victim2'", ['images', 'import', notTar, '--distro', 'debian', '--release', 'x/../../../victim2']),
      release("images import TAR --release '../../victim'", ['images', 'import', tiny, '--distro', 'debian', '--release', '../../victim']),
      release('create --release "" (empty)', ['create', 'debian', 'r2', '--release=', '--mirror', 'http://127.0.0.1:1/', '--ssh-key', ctx.keys.pub]),
      release("create --release 'sid main' (a space)", ['create', 'debian', 'r3', '--release', 'sid main', '--mirror', 'http://127.0.0.1:1/', '--ssh-key', ctx.keys.pub]),
      release('create --release=-v (an option to debootstrap)', ['create', 'debian', 'r4', '--release=-v', '--mirror', 'http://127.0.0.1:1/', '--ssh-key', ctx.keys.pub]),
      release("create --release 'trixie/../bookworm'", ['create', 'debian', 'r5', '--release', 'trixie/../bookworm', '--mirror', 'http://127.0.0.1:1/', '--ssh-key', ctx.keys.pub]),
      {name: 'create: distro ../debian', args: ['create', '../debian', 'r6'], expectExit: 2, expectCode: 'UNKNOWN_DISTRO', message: /distro/},
      {name: 'create --mirror=-x (an option to debootstrap)', args: ['create', 'debian', 'r7', '--release', 'trixie', '--mirror=-x', '--ssh-key', ctx.keys.pub], expectExit: 2, expectCode: 'INVALID_ARGUMENT', message: /mirror/},
    ],
  }
}

export function imageIdCases(ctx: Context): Group {
  const out = join(ctx.root, 'out.tar')
  const id = (name: string, args: string[]): Case => ({name, args, expectExit: 2, expectCode: /INVALID_ARGUMENT|INVALID_NAME/, message: /image/})
  return {
    name: 'image ids',
    before: () => rootWithContainer(ctx),
    cases: [
      id('images rm ../../victim', ['images', 'rm', '../../victim']),
      id('images rm ..', ['images', 'rm', '..']),
      id('images rm "" (empty)', ['images', 'rm', '']),
      id('images export ../../victim', ['images', 'export', '../../victim', '-o', out]),
      id('images export ..', ['images', 'export', '..', '-o', out]),
      // Output paths: a directory, or one in a missing directory, outside the root: one line, no .part left.
      {name: 'images export -o DIR (a directory outside the root)', args: ['images', 'export', 'debian-bookworm', '-o', join(ctx.P, 'victim')], expectExit: [1, 2], message: /victim/},
      {name: 'images export -o missing/x.tar', args: ['images', 'export', 'debian-bookworm', '-o', join(ctx.P, 'missing', 'x.tar')], expectExit: [1, 2], message: /missing/},
    ],
  }
}

export function portCases(ctx: Context): Group {
  const port = (name: string, args: string[], message = /port|address/): Case => ({name, args, expectExit: 2, expectCode: 'INVALID_ARGUMENT', message})
  return {
    name: 'ports and services',
    before: () => rootWithContainer(ctx),
    cases: [
      port('expose 0', ['expose', '0', 'ssh', '-c', 'c1']),
      port('expose 65536', ['expose', '65536', 'ssh', '-c', 'c1']),
      port('expose -1 (after --)', ['expose', '-c', 'c1', '--', '-1', 'ssh']),
      {name: 'expose -1 (read as a flag)', args: ['expose', '-1', 'ssh', '-c', 'c1'], expectExit: 2, message: /-1/},
      port('expose abc', ['expose', 'abc', 'ssh', '-c', 'c1']),
      port('expose 1.2.3.4:22 (not an address of this host)', ['expose', '1.2.3.4:22', 'ssh', '-c', 'c1'], /1\.2\.3\.4/),
      port('expose [fe80::1%eth0]:22 (a zone)', ['expose', '[fe80::1%eth0]:22', 'ssh', '-c', 'c1'], /fe80/),
      port('expose localhost:22 (a host name)', ['expose', 'localhost:22', 'ssh', '-c', 'c1']),
      port('unexpose abc', ['unexpose', 'abc', '-c', 'c1']),
      port('create --ssh-port 70000', ['create', 'debian', 'p1', '--ssh-port', '70000', '--ssh-key', ctx.keys.pub]),
      {name: 'expose: unknown service', args: ['expose', '2392', 'nosuch', '-c', 'c1'], expectExit: 2, expectCode: 'UNKNOWN_SERVICE', message: /service/},
      {name: 'expose: service ../ssh', args: ['expose', '2392', '../ssh', '-c', 'c1'], expectExit: 2, expectCode: 'UNKNOWN_SERVICE', message: /service/},
    ],
  }
}

export function flagCases(ctx: Context): Group {
  const usage = (name: string, args: string[], message: RegExp): Case => ({name, args, expectExit: 2, message})
  const k = ['--ssh-key', ctx.keys.pub]
  return {
    name: 'flag values',
    before: () => rootWithContainer(ctx),
    cases: [
      usage('update --idle-timeout -5', ['update', 'c1', '--idle-timeout', '-5'], /idle-timeout/),
      usage('update --idle-timeout abc', ['update', 'c1', '--idle-timeout', 'abc'], /idle-timeout/),
      usage('update --idle-timeout 99999999999999999999', ['update', 'c1', '--idle-timeout', '99999999999999999999'], /idle-timeout/),
      usage('create --idle-timeout -5', ['create', 'debian', 'f1', '--idle-timeout', '-5', ...k], /idle-timeout/),
      usage('logs -n abc', ['logs', 'c1', '-n', 'abc'], /-n|lines/),
      usage("create --packages 'a;b'", ['create', 'debian', 'f2', '--packages', 'a;b', ...k], /package/),
      usage('create --packages=--foo', ['create', 'debian', 'f3', '--packages=--foo', ...k], /package/),
      usage("create --packages 'a b'", ['create', 'debian', 'f4', '--packages', 'a b', ...k], /package/),
      usage('create --profile ../../victim', ['create', 'debian', 'f5', '--profile', '../../victim', ...k], /profile/),
      usage('update --profile ../../victim', ['update', 'c1', '--profile', '../../victim'], /profile/),
      usage('ls -x (unknown flag)', ['ls', '-x'], /-x/),
      usage('expose (missing arguments)', ['expose'], /argument|PORT|port/),
    ],
  }
}

export function keyCases(ctx: Context): Group {
  const fifo = join(ctx.work, 'key.fifo')
  const key = (name: string, file: string, message: RegExp): Case => ({
    name,
    args: ['create', 'debian', 'k1', '--ssh-key', file],
    expectExit: 2,
    expectCode: 'INVALID_ARGUMENT',
    message,
    timeoutMs: 30_000,
  })
  return {
    name: 'key files',
    before: async () => {
      await rootWithContainer(ctx)
      await mkdir(ctx.work, {recursive: true})
      await execa('mkfifo', [fifo])
    },
    cases: [
      key('--ssh-key missing file', join(ctx.P, 'no-such.pub'), /no-such/),
      key('--ssh-key a directory', join(ctx.P, 'victim'), /victim/),
      key('--ssh-key /dev/zero', '/dev/zero', /dev\/zero/),
      key('--ssh-key a fifo (no writer)', fifo, /fifo/),
      key('--ssh-key a file that is not a key', join(ctx.P, 'sibling', 'file'), /file/),
      key('--ssh-key the private key', ctx.keys.key, /id_ed25519/),
    ],
  }
}
