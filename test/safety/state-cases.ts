/**
 * The rest of issue 9 as cases: modes of the state root, debris of killed commands, messages that
 * must be one line (or JSON), a non-root user, a corrupt record, and the container's own binaries
 * never run with more than the container's capabilities.
 */
import {spawn} from 'node:child_process'
import {createReadStream} from 'node:fs'
import {chmod, mkdir, readFile, readdir, rename, stat, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {destroyRoot} from '../helpers/cleanup.js'
import {CTR} from '../helpers/cli.js'
import {letNobodyReachCtr} from '../helpers/nobody.js'
import type {Case, RunResult} from './harness.js'
import {type Context, containerTree, type Group, linkBase, rootWithContainer} from './context.js'

const NOBODY = 65534

async function modeProblems(dirs: string[]): Promise<string[]> {
  const problems: string[] = []
  for (const dir of dirs) {
    const info = await stat(dir).catch(() => undefined)
    if (info && (info.mode & 0o777) !== 0o700) problems.push(`${dir} is ${(info.mode & 0o777).toString(8)}, not 700`)
  }
  return problems
}

/** Starts ctr ARGS in a process group of its own and SIGKILLs the group once READY says so. */
async function killMidway(ctx: Context, args: string[], ready: () => Promise<boolean>, input?: string): Promise<string[]> {
  const child = spawn(CTR, [...args, '--root', ctx.root], {detached: true, stdio: [input ? 'pipe' : 'ignore', 'ignore', 'ignore']})
  if (input) createReadStream(input).pipe(child.stdin!).on('error', () => {})
  child.stdin?.on('error', () => {})
  const deadline = Date.now() + 30_000
  while (Date.now() < deadline && child.exitCode === null && !(await ready())) await sleep(20)
  try {
    process.kill(-child.pid!, 'SIGKILL')
  } catch {
    // it ended already
  }
  await new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : child.once('exit', resolve)))
  const left = async (dir: string) => (await readdir(join(ctx.root, dir)).catch(() => [])).map((n) => `${dir}/${n}`)
  return [...(await left('containers')), ...(await left('tmp'))]
}

export function stateCases(ctx: Context): Group {
  const {root} = ctx
  const fresh = join(root, 'fresh')
  const notTar = join(ctx.work, 'not-a-tar.txt')
  let debris: string[] = []
  const exists = async (p: string) => stat(join(root, p)).then(() => true, () => false)
  const oneLineJson = async (r: RunResult): Promise<string[]> => {
    if (r.exitCode === 0) return []
    try {
      JSON.parse(r.stdout)
      return []
    } catch {
      return [`--json failed without a JSON error on stdout (stderr: ${JSON.stringify(r.stderr.split('\n')[0])})`]
    }
  }
  const notRoot = (name: string, args: string[]): Case => ({
    name,
    args,
    expectExit: 1,
    expectCode: 'NOT_ROOT',
    message: /root/,
    uid: NOBODY,
    gid: NOBODY,
    setup: () => rootWithContainer(ctx).then(() => chmod(root, 0o700)).then(letNobodyReachCtr),
  })
  const cases: Case[] = [
    {
      name: 'an existing root, images/ and tmp/ of mode 755 are tightened to 700 when ctr next opens it (images)',
      args: ['images'],
      expectExit: 0,
      setup: async () => {
        await ctx.s.emptyRoot()
        await linkBase(ctx)
        await mkdir(join(root, 'tmp'))
        for (const dir of [root, join(root, 'images'), join(root, 'tmp')]) await chmod(dir, 0o755)
      },
      check: () => modeProblems([root, join(root, 'images'), join(root, 'tmp')]),
    },
    {
      name: 'an existing 755 root is tightened to 700 by a command that takes the state lock (rm)',
      args: ['rm', '-f', 'nosuch'],
      expectExit: 1,
      expectCode: 'NOT_FOUND',
      json: false,
      setup: async () => {
        await ctx.s.emptyRoot()
        await linkBase(ctx)
        await mkdir(join(root, 'tmp'))
        for (const dir of [root, join(root, 'images'), join(root, 'tmp')]) await chmod(dir, 0o755)
      },
      check: () => modeProblems([root, join(root, 'images'), join(root, 'tmp')]),
    },
    {
      name: 'a new root and what ctr makes in it are 700',
      args: ['images', 'import', notTar, '--distro', 'debian'],
      root: fresh,
      expectExit: 1,
      json: false,
      setup: () => ctx.s.emptyRoot(),
      check: () => modeProblems([fresh, join(fresh, 'images'), join(fresh, 'tmp'), join(fresh, 'containers')]),
    },
    {
      name: 'SIGKILL of create --copy: the next create clears its debris, ls never lists it',
      args: ['create', 'debian', 'k2', '--ssh-key', ctx.keys.pub],
      expectExit: 0,
      timeoutMs: 120_000,
      setup: async () => {
        await ctx.s.emptyRoot()
        await linkBase(ctx)
        debris = await killMidway(ctx, ['create', 'debian', 'k1', '--copy', '--ssh-key', ctx.keys.pub], async () => {
          if (!(await exists('containers/k1/rootfs'))) return false
          await sleep(250)
          return true
        })
      },
      check: async () => {
        const problems: string[] = []
        if (debris.length === 0) problems.push('(setup) the killed create left nothing to clear: the kill came too late')
        if (await exists('containers/k1')) problems.push('containers/k1 of the killed create is still there')
        const tmp = (await readdir(join(root, 'tmp')).catch(() => [])).filter((n) => n.startsWith('hostkeys-'))
        if (tmp.length > 0) problems.push(`tmp/ still holds ${tmp.join(', ')}`)
        return problems
      },
    },
    {
      name: 'SIGKILL of images import -: the next ctr taking the lock clears tmp/',
      args: ['images', 'rm', 'debian-bookworm'],
      expectExit: 1,
      expectCode: 'NOT_FOUND',
      json: false,
      timeoutMs: 60_000,
      setup: async () => {
        await ctx.s.emptyRoot()
        // Killed a second or so into the unpack (a whole import takes about 6 s).
        debris = await killMidway(ctx, ['images', 'import', '-', '--distro', 'debian'], async () => {
          if ((await readdir(join(root, 'tmp')).catch(() => [])).length === 0) return false
          await sleep(1200)
          return true
        }, ctx.baseTar)
      },
      check: async () => {
        const problems: string[] = []
        if (debris.length === 0) problems.push('(setup) the killed import left nothing to clear')
        const tmp = await readdir(join(root, 'tmp')).catch(() => [])
        if (tmp.length > 0) problems.push(`tmp/ still holds ${tmp.join(', ')} (left by the killed import: ${debris.join(', ')})`)
        return problems
      },
    },
    {
      name: 'logs of a never-booted container says there is no journal yet',
      args: ['logs', 'c1'],
      expectExit: [0, 1],
      json: false,
      setup: () => rootWithContainer(ctx),
      check: async (r) => (/no journal/i.test(`${r.stdout}\n${r.stderr}`) ? [] : [`it says nothing of a journal (exit ${r.exitCode}, stdout ${JSON.stringify(r.stdout.slice(0, 60))})`]),
    },
    {
      name: 'logs --json gives JSON (journal entries, or a JSON error)',
      args: ['logs', 'c1', '--json'],
      expectExit: [0, 1],
      json: false,
      check: oneLineJson,
    },
    {
      name: 'create --mirror with the base cached says the mirror is not used',
      args: ['create', 'debian', 'm1', '--mirror', 'http://127.0.0.1:1/', '--ssh-key', ctx.keys.pub],
      expectExit: [0, 1, 2],
      json: false,
      setup: () => rootWithContainer(ctx),
      check: async (r) => (/mirror/i.test(`${r.stdout}\n${r.stderr}`) ? [] : ['--mirror was ignored without a word']),
    },
    {
      name: 'a corrupt container record: ls lists it as broken and shows the others',
      args: ['ls', '--json'],
      expectExit: 0,
      setup: async () => {
        await rootWithContainer(ctx)
        await mkdir(join(root, 'containers', 'bad'), {mode: 0o700})
        await writeFile(join(root, 'containers', 'bad', 'container.json'), '{"name": "bad", ')
      },
      check: async (r) => (r.stdout.includes('"c1"') && r.stdout.includes('"bad"') ? [] : [`ls does not show both c1 and the broken bad: ${JSON.stringify((r.stdout || r.stderr).slice(0, 100))}`]),
    },
    ...(['start', 'stop', 'rm'] as const).map((verb): Case => ({
      name: `${verb} of a missing container: one line naming it once, JSON only under --json`,
      args: verb === 'rm' ? ['rm', '-f', 'nosuch'] : [verb, 'nosuch'],
      expectExit: 1,
      expectCode: 'NOT_FOUND',
      message: /nosuch/,
      setup: () => rootWithContainer(ctx),
      check: async (r) => ((r.stderr.split('\n')[0].match(/nosuch/g) ?? []).length > 1 ? [`the name is said twice: ${JSON.stringify(r.stderr.split('\n')[0])}`] : []),
    })),
    notRoot('images as a non-root user', ['images']),
    notRoot('logs as a non-root user', ['logs', 'c1']),
    notRoot('start as a non-root user', ['start', 'c1']),
    {
      name: "shell: the container's /usr/bin/env never runs with more than the container's capabilities",
      args: ['shell', 'c1', '--', '/bin/sh', '-c', 'echo ran > /root/shell-ran'],
      expectExit: 0,
      json: false,
      timeoutMs: 120_000,
      setup: async () => {
        await rootWithContainer(ctx)
        const tree = await containerTree(ctx)
        await rename(join(tree, 'usr/bin/env'), join(tree, 'usr/bin/env.real'))
        await writeFile(join(tree, 'usr/bin/env'), "#!/bin/sh\ngrep -E '^(CapEff|CapBnd|Seccomp):' /proc/self/status > /root/cap-probe\nexec /usr/bin/env.real \"$@\"\n", {mode: 0o755})
      },
      check: async () => {
        const tree = await containerTree(ctx)
        // The command itself must have run inside (else the probe proves nothing).
        if (!(await stat(join(tree, 'root/shell-ran')).then(() => true, () => false))) return ['the shell command did not run inside the container']
        const probe = await readFile(join(tree, 'root/cap-probe'), 'utf8').catch(() => undefined)
        if (probe === undefined) return []
        const eff = BigInt(`0x${/CapEff:\s*([0-9a-f]+)/.exec(probe)?.[1] ?? '0'}`)
        const bounding = 0xfcecafffn
        return (eff & ~bounding) !== 0n ? [`the container's own /usr/bin/env ran with CapEff ${eff.toString(16)} (container bounding set fcecafff): ${probe.replaceAll('\n', ' ')}`] : []
      },
    },
    // c1 runs now (the shell woke it): refusals that name a running container.
    {
      name: 'rm -f of a running container: one line naming it once (and JSON only under --json)',
      args: ['rm', '-f', 'c1'],
      expectExit: 1,
      expectCode: 'RUNNING',
      message: /c1 is running/,
      check: async (r) => ((r.stderr.split('\n')[0].match(/c1/g) ?? []).length > 1 ? [`the name is said twice: ${JSON.stringify(r.stderr.split('\n')[0])}`] : []),
    },
    // (No images rm here: the base is the shared cache linked in, which a defect would delete.)
  ]
  return {
    name: 'state, debris, messages, privileges',
    after: async () => {
      // The shell case started an activator and booted c1: stopped by pid, then the root emptied.
      await destroyRoot(root)
      await mkdir(root, {mode: 0o700})
    },
    cases,
  }
}
