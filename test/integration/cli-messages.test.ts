/**
 * The promise of one line with a hint, kept by the real built CLI (bin/ctr -> dist/): parse
 * errors, export targets, a non-root user (run as nobody with setpriv), batch item errors with
 * and without --json, logs of a container that never booted (and -f following it into its first
 * boot), shell NAME [-- COMMAND...], and --mirror over a cached base. One container boots.
 */
import {mkdir, readdir, readlink} from 'node:fs/promises'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {CTR, ctr} from '../helpers/cli.js'
import {letNobodyReachCtr, restoreNobodyPaths} from '../helpers/nobody.js'
import {makeTestRoot, skipReason, tearDown} from '../helpers/roots.js'

const reason = skipReason()
if (reason) console.warn(`test/integration/cli-messages.test.ts: ${reason}`)

/** stderr is `ctr: MESSAGE` and hint lines indented by two spaces: no usage dump, no stack. */
function expectOneMessage(stderr: string, message: string | RegExp): string[] {
  // execa strips the final newline.
  const [first, ...hints] = stderr.split('\n')
  expect(first).toMatch(/^ctr: \S/)
  if (typeof message === 'string') expect(first).toBe(`ctr: ${message}`)
  else expect(first).toMatch(message)
  for (const hint of hints) expect(hint).toMatch(/^ {2}\S/)
  expect(stderr).not.toMatch(/USAGE|›|Error:|See more help|\n\s+at /)
  return hints
}

type Result = {exitCode?: number; stdout: string; stderr: string}

function expectJsonError(result: Result, code: string, exitCode: number): {code: string; message: string; hints: string[]} {
  expect(result.exitCode).toBe(exitCode)
  expect(result.stderr).toBe('')
  const {error} = JSON.parse(result.stdout) as {error: {code: string; message: string; hints: string[]}}
  expect(error.code).toBe(code)
  expect(error.message).not.toMatch(/\n/)
  return error
}

describe.skipIf(reason)('one line with a hint (real CLI)', () => {
  let root: string

  beforeAll(async () => {
    root = await makeTestRoot()
    const made = await ctr(root, ['create', 'debian', 'p1'])
    expect(made.exitCode, made.stderr).toBe(0)
  })
  afterAll(() => tearDown({root}))

  it('an unknown command is one line with a hint, exit 2', async () => {
    const result = await ctr(root, ['imges'])
    expect(result.exitCode).toBe(2)
    expect(expectOneMessage(result.stderr, 'unknown command "imges"')).toEqual(['  did you mean: ctr images? see: ctr --help'])
  })

  describe('parse errors: one line, see: ctr CMD --help, exit 2', () => {
    const cases: Array<[string[], string]> = [
      [['update', 'p1', '--idle-timeout', '-5'], '--idle-timeout must be 0 to 2592000 seconds (0 = never; at most 30 days), not -5'],
      [['update', 'p1', '--idle-timeout', 'abc'], "--idle-timeout must be a whole number of seconds (0 = never; at most 30 days), not 'abc'"],
      [['update', 'p1', '--idle-timeout', '99999999999999999999'], '--idle-timeout must be 0 to 2592000 seconds (0 = never; at most 30 days), not 99999999999999999999'],
      [['create', 'debian', 'p9', '--idle-timeout', '-1'], '--idle-timeout must be 0 to 2592000 seconds (0 = never; at most 30 days), not -1'],
      [['logs', 'p1', '-n', 'abc'], "--lines (-n) must be a whole number of lines, not 'abc'"],
      [['ls', '-x'], 'ctr ls has no flag -x'],
      [['update'], 'missing NAME: container name'],
      [['update', 'p1', 'p2'], 'too many arguments: p2'],
      [['images', 'import', 'x.tar'], '--distro is required'],
      [['activator', '--stop', '--unit'], '--stop and --unit do not go together'],
    ]
    for (const [args, message] of cases) {
      it(`ctr ${args.join(' ')}`, async () => {
        const result = await ctr(root, args)
        expect(result.exitCode).toBe(2)
        expect(result.stdout).toBe('')
        const command = args[0] === 'images' ? 'images import' : args[0]
        expect(expectOneMessage(result.stderr, message)).toContain(`  see: ctr ${command} --help`)
        const error = expectJsonError(await ctr(root, [...args, '--json']), 'INVALID_ARGUMENT', 2)
        expect(error.message).toBe(message)
        expect(error.hints).toContain(`see: ctr ${command} --help`)
      })
    }

    it('a bounded --idle-timeout is kept', async () => {
      const result = await ctr(root, ['update', 'p1', '--idle-timeout', '2592000', '--json'])
      expect(result.exitCode, result.stderr).toBe(0)
      expect(JSON.parse(result.stdout).container.idleTimeoutSec).toBe(2_592_000)
      expect((await ctr(root, ['update', 'p1', '--idle-timeout', '0'])).exitCode).toBe(0)
    })
  })

  describe('images export -o', () => {
    it('a directory is refused before any work, and nothing is written', async () => {
      const dir = join(root, 'out')
      await mkdir(dir)
      const result = await ctr(root, ['images', 'export', 'debian-bookworm', '-o', dir])
      expect(result.exitCode).toBe(2)
      expectOneMessage(result.stderr, `-o ${dir} is a directory; it takes a file name`)
      expect(await readdir(dir)).toEqual([])
      expect(await readdir(root)).not.toContain('out.part')
    })

    it('a file in a directory that does not exist is refused', async () => {
      const target = join(root, 'missing/x.tar')
      const result = await ctr(root, ['images', 'export', 'debian-bookworm', '-o', target])
      expect(result.exitCode).toBe(2)
      expectOneMessage(result.stderr, `-o ${target}: the directory ${join(root, 'missing')} does not exist`)
      const json = await ctr(root, ['images', 'export', 'debian-bookworm', '-o', target, '--json'])
      expectJsonError(json, 'INVALID_ARGUMENT', 2)
    })
  })

  describe('a non-root user is told that root is needed', () => {
    beforeAll(letNobodyReachCtr)
    afterAll(restoreNobodyPaths)
    const asNobody = (args: string[]) =>
      execa('setpriv', ['--reuid=65534', '--regid=65534', '--clear-groups', CTR, ...args, '--root', root], {
        reject: false,
        // nobody's own home, as a login would set it (oclif looks for user plugins there).
        env: {HOME: '/nonexistent', NO_COLOR: '1'},
      })
    for (const args of [['images'], ['start', 'p1'], ['logs', 'p1'], ['ls'], ['images', 'export', 'debian-bookworm', '-o', '/tmp/nobody.tar']]) {
      it(`ctr ${args.join(' ')}`, async () => {
        const result = await asNobody(args)
        expect(result.exitCode).toBe(1)
        expect(result.stdout).toBe('')
        expect(expectOneMessage(result.stderr, `ctr ${args[0] === 'images' && args.length > 1 ? `images ${args[1]}` : args[0]} needs root`)).toEqual([
          '  run it as root, e.g. with sudo',
        ])
        expect(result.stderr).not.toMatch(/EACCES/)
      })
    }

    it('under --json too; a parse error is still a parse error', async () => {
      expectJsonError(await asNobody(['images', '--json']), 'NOT_ROOT', 1)
      const parse = await asNobody(['update', 'p1', '--idle-timeout', 'abc'])
      expect(parse.exitCode).toBe(2)
      expectOneMessage(parse.stderr, /^ctr: --idle-timeout must be a whole number/)
    })
  })

  describe('batch verbs', () => {
    it('an item error names the item once; under --json it is in the report only', async () => {
      for (const verb of [['start'], ['stop'], ['rm', '-f']]) {
        const plain = await ctr(root, [...verb, 'nope'])
        expect(plain.exitCode).toBe(1)
        expectOneMessage(plain.stderr, 'no container named nope')
        const json = await ctr(root, [...verb, 'nope', '--json'])
        expect(json.exitCode).toBe(1)
        expect(json.stderr).toBe('')
        const report = JSON.parse(json.stdout)
        const items = (Array.isArray(report) ? report : report.items) as Array<{name: string; error?: {code: string; message: string}}>
        expect(items).toEqual([expect.objectContaining({name: 'nope', error: expect.objectContaining({code: 'NOT_FOUND', message: 'no container named nope'})})])
      }
    })
  })

  describe('--mirror over a cached base', () => {
    it('says the cached base was used and --mirror had no effect', async () => {
      const result = await ctr(root, ['create', 'debian', 'm1', '--mirror', 'http://127.0.0.1:9/debian'])
      expect(result.exitCode, result.stderr).toBe(0)
      const hints = expectOneMessage(result.stderr, /^ctr: warning: --mirror had no effect: the cached base debian-bookworm was used \(bootstrapped from http:\/\/\S+\)$/)
      expect(hints).toEqual(['  to bootstrap from http://127.0.0.1:9/debian, remove that base first: ctr images rm debian-bookworm'])
      const json = await ctr(root, ['create', 'debian', 'm2', '--mirror', 'http://127.0.0.1:9/debian', '--json'])
      expect(json.exitCode, json.stderr).toBe(0)
      expect(json.stderr).toBe('')
      expect(JSON.parse(json.stdout)).toMatchObject({mirrorIgnored: true, container: {name: 'm2', image: 'debian-bookworm'}})
      const plain = await ctr(root, ['create', 'debian', 'm3', '--json'])
      expect(JSON.parse(plain.stdout).mirrorIgnored).toBe(false)
      expect((await ctr(root, ['rm', '-f', 'm1', 'm2', 'm3'])).exitCode).toBe(0)
    })
  })

  describe('logs and shell of a container from its first boot on', () => {
    it('shell NAME [-- COMMAND...]: a second name is refused, not run', async () => {
      const help = await ctr(root, ['shell', '--help'])
      expect(help.stdout).toMatch(/\$ ctr shell NAME \[-- COMMAND\.\.\.\]/)
      expect(help.stdout).not.toMatch(/NAME\.\.\./)
      const two = await ctr(root, ['shell', 'p1', 'p2'])
      expect(two.exitCode).toBe(2)
      expect(expectOneMessage(two.stderr, 'too many arguments: p2')).toEqual(['  usage: ctr shell NAME [-- COMMAND...]', '  see: ctr shell --help'])
      // Nothing was booted for it.
      const status = JSON.parse((await ctr(root, ['ls', '--json'])).stdout) as {containers: Array<{name: string; state: string}>}
      expect(status.containers.find((c) => c.name === 'p1')?.state).not.toBe('running')
    })

    it('logs of a container that never booted: no journal yet, exit 1', async () => {
      const result = await ctr(root, ['logs', 'p1'])
      expect(result.exitCode).toBe(1)
      expect(result.stdout).toBe('')
      expectOneMessage(result.stderr, 'p1 has no journal yet: it has not booted')
      expectJsonError(await ctr(root, ['logs', 'p1', '--json']), 'NOT_FOUND', 1)
    })

    it('logs -f waits for the first boot and follows it; then --json gives JSON lines; rm of it is refused once', async () => {
      const follower = execa(CTR, ['logs', 'p1', '-f', '-n', '5', '--root', root], {reject: false, env: {NO_COLOR: '1'}})
      let out = ''
      let err = ''
      follower.stdout?.on('data', (chunk: Buffer) => (out += chunk.toString()))
      follower.stderr?.on('data', (chunk: Buffer) => (err += chunk.toString()))
      try {
        for (let i = 0; i < 100 && !err.includes('waiting'); i++) await sleep(100)
        expect(err).toBe('ctr: p1 has no journal yet; waiting for its first boot (Ctrl-C stops)\n')
        expect(follower.exitCode).toBeNull()

        // The first boot: ctr shell wakes it and runs the command after --, arguments as given.
        const shell = await ctr(root, ['shell', 'p1', '--', 'echo', 'a  b', '--json'])
        expect(shell.stderr).toBe('')
        expect(shell.stdout).toBe('a  b --json')
        expect(shell.exitCode).toBe(0)

        for (let i = 0; i < 150 && !/systemd\[1\]/.test(out); i++) await sleep(100)
        expect(out).toMatch(/p1 systemd\[1\]: /)
      } finally {
        follower.kill('SIGTERM')
        await follower
      }
      expect(follower.exitCode).toBe(0)

      const json = await ctr(root, ['logs', 'p1', '-n', '3', '--json'])
      expect(json.exitCode, json.stderr).toBe(0)
      const lines = json.stdout.trim().split('\n')
      expect(lines).toHaveLength(3)
      for (const line of lines) expect(JSON.parse(line)).toMatchObject({MESSAGE: expect.anything(), __REALTIME_TIMESTAMP: expect.any(String)})
      // The journal is only in the tree: nothing in the host's /var/log/journal leads into the state root.
      const hostJournal = await readdir('/var/log/journal').catch(() => [])
      const links = await Promise.all(hostJournal.map((entry) => readlink(join('/var/log/journal', entry)).catch(() => '')))
      expect(links.filter((target) => target.startsWith(root))).toEqual([])

      const rm = await ctr(root, ['rm', '-f', 'p1'])
      expect(rm.exitCode).toBe(1)
      expectOneMessage(rm.stderr, /^ctr: p1 is running \(systemd-nspawn pid \d+\)$/)
      const rmJson = await ctr(root, ['rm', '-f', 'p1', '--json'])
      expect(rmJson.exitCode).toBe(1)
      expect(rmJson.stderr).toBe('')
      expect(JSON.parse(rmJson.stdout)).toEqual([expect.objectContaining({name: 'p1', removed: false, error: expect.objectContaining({code: 'RUNNING'})})])

      const stop = await ctr(root, ['stop', 'p1'])
      expect(stop.exitCode, stop.stderr).toBe(0)
    })
  })
})
