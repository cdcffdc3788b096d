/**
 * The safety suite's harness: a sentinel tree laid AROUND the state root (its parent, siblings, the
 * directories a `..` out of images/, containers/ or tmp/ reaches), checksummed before and after
 * every case, and a read-only snapshot of the host paths a hostile tree or archive would aim at.
 * runCase runs the real built CLI, checks the exit code and the one-line message (with and without
 * --json), that nothing changed outside the state root, and records the outcome for the summary.
 */
import {createHash} from 'node:crypto'
import {chmod, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, symlink, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {execa} from 'execa'
import {removeRootCgroups} from '../../src/activator/cgroups.js'
import {mountsUnder} from '../../src/rootfs/mount.js'
import {CTR} from '../helpers/cli.js'

/** Host paths a hostile tree (an /etc or /root/.ssh symlinked out) or archive would reach. Read only. */
export const HOST_PATHS = ['/etc/systemd/system', '/root/.ssh', '/etc/ssh', '/etc/passwd', '/etc/shadow', '/etc/group', '/etc/hosts', '/etc/hostname', '/etc/machine-id', '/etc/sudoers.d']

/** One line per entry under DIR: path, type, mode, owner, size, links, content hash, link target (and mtime). */
export async function checksum(dir: string, options: {exclude?: string[]; mtimes?: boolean; contents?: boolean} = {}): Promise<Map<string, string>> {
  const out = new Map<string, string>()
  const exclude = new Set(options.exclude ?? [])
  const visit = async (path: string) => {
    if (exclude.has(path)) return
    let info
    try {
      info = await lstat(path)
    } catch {
      out.set(path, 'missing')
      return
    }
    const type = info.isSymbolicLink() ? 'l' : info.isDirectory() ? 'd' : info.isFile() ? 'f' : 'o'
    let extra = ''
    if (type === 'l') extra = `-> ${await readlink(path)}`
    // Host files (/etc/shadow among them) are compared by metadata only, never read.
    if (type === 'f') extra = options.contents === false ? `c${info.ctimeMs}` : createHash('sha256').update(await readFile(path)).digest('hex').slice(0, 16)
    const time = options.mtimes || type === 'f' ? ` m${info.mtimeMs}` : ''
    out.set(path, `${type} ${info.mode.toString(8)} ${info.uid}:${info.gid} ${type === 'f' ? info.size : ''} n${info.nlink} ${extra}${time}`)
    if (type === 'd') for (const name of (await readdir(path)).sort()) await visit(join(path, name))
  }
  await visit(dir)
  return out
}

export function differences(before: Map<string, string>, after: Map<string, string>): string[] {
  const keys = [...new Set([...before.keys(), ...after.keys()])].sort()
  return keys.filter((k) => before.get(k) !== after.get(k)).map((k) => `${k}: ${before.get(k) ?? 'absent'} => ${after.get(k) ?? 'absent'}`)
}

/** Extra read-only paths watched like the host's (the shared cached base, which tests link in). */
export const watchedPaths: string[] = []

async function hostSnapshot(): Promise<Map<string, string>> {
  const all = new Map<string, string>()
  for (const path of [...HOST_PATHS, ...watchedPaths]) for (const [k, v] of await checksum(path, {contents: false})) all.set(k, v)
  return all
}

/**
 * P (a fresh dir under /var/tmp) holds the state root P/root and, around it, what a hostile name,
 * release, archive or tree would reach: victims with files in them that ctr writes or removes in a
 * tree (ssh host keys, authorized_keys, machine-id, hosts), an etc-like dir, and the dirs that a
 * `..` out of the root lands in.
 */
export class Sentinel {
  private constructor(
    readonly P: string,
    readonly root: string,
  ) {}

  static async lay(): Promise<Sentinel> {
    const P = await mkdtemp('/var/tmp/ctr-safety-')
    await chmod(P, 0o755)
    const s = new Sentinel(P, join(P, 'root'))
    await mkdir(s.root, {mode: 0o700})
    const file = async (rel: string, text: string, mode = 0o644) => {
      await mkdir(join(P, rel, '..'), {recursive: true})
      await writeFile(join(P, rel), text, {mode})
      await chmod(join(P, rel), mode)
    }
    for (const victim of ['victim', 'victim2']) {
      await file(`${victim}/keep.txt`, `${victim}: data that must survive\n`)
      await file(`${victim}/sub/deep.txt`, 'deeper\n', 0o600)
      for (const type of ['ed25519', 'ecdsa', 'rsa']) {
        await file(`${victim}/ssh_host_${type}_key`, `not a key of ${victim}\n`, 0o600)
        await file(`${victim}/ssh_host_${type}_key.pub`, `not a key of ${victim}\n`)
      }
      await file(`${victim}/authorized_keys`, 'ssh-ed25519 AAAAsentinel sentinel\n', 0o600)
      await file(`${victim}/machine-id`, '0123456789abcdef0123456789abcdef\n', 0o444)
      await file(`${victim}/hostname`, 'sentinel\n')
      await file(`${victim}/hosts`, '127.0.0.1\tsentinel\n')
    }
    await file('victim2/setuid', '#!/bin/sh\n', 0o4755)
    await file('sibling/file', 'sibling content\n', 0o640)
    await file('etcdir/passwd', 'root:x:0:0:sentinel:/root:/bin/sh\n')
    await file('etcdir/shadow', 'root:*:1::::::\n', 0o640)
    await file('etcdir/hosts', '127.0.0.1\tsentinel\n')
    await file('etcdir/hostname', 'sentinel\n')
    await file('etcdir/machine-id', 'fedcba9876543210fedcba9876543210\n', 0o444)
    await file('etcdir/os-release', 'ID=sentinel\n')
    await file('etcdir/ssh/sshd_config', '# sentinel\n')
    await file('etcdir/systemd/system/sentinel.service', '[Unit]\nDescription=sentinel\n')
    // What `..` from ROOT/images, ROOT/containers or ROOT/tmp reaches once more: P's own such dirs.
    for (const dir of ['images', 'containers', 'tmp', 'activator']) await file(`${dir}/marker`, `${dir} outside the root\n`)
    await mkdir(join(P, 'empty'))
    await symlink('victim', join(P, 'link-to-victim'))
    await symlink('/etc/passwd', join(P, 'abs-link'))
    return s
  }

  /** The sentinel: everything under P but the state root (dir mtimes included: a create-then-remove shows). */
  async sum(): Promise<Map<string, string>> {
    return checksum(this.P, {exclude: [this.root], mtimes: true})
  }

  /** Empties the state root (unmounting what is mounted below it, not a tmpfs on it). */
  async emptyRoot(): Promise<void> {
    for (const point of await mountsUnder(this.root)) if (point !== this.root) await execa('umount', ['-l', point], {reject: false})
    for (const name of await readdir(this.root)) await rm(join(this.root, name), {recursive: true, force: true})
    removeRootCgroups(this.root)
  }

  async mountTmpfs(sizeMb: number): Promise<void> {
    await this.unmountTmpfs()
    await execa('mount', ['-t', 'tmpfs', '-o', `size=${sizeMb}m,mode=0700`, 'ctr-safety', this.root])
  }

  async unmountTmpfs(): Promise<void> {
    await this.emptyRoot()
    while ((await mountsUnder(this.root)).includes(this.root)) await execa('umount', [this.root])
  }

  async destroy(): Promise<void> {
    for (const point of await mountsUnder(this.P)) await execa('umount', ['-l', point], {reject: false})
    removeRootCgroups(this.root)
    await rm(this.P, {recursive: true, force: true})
  }
}

/** What a refused command must not leave in the root: images, containers, anything in tmp/. */
async function rootState(root: string): Promise<string[]> {
  const names = async (dir: string, hidden: boolean) => (await readdir(join(root, dir)).catch(() => [] as string[])).filter((n) => hidden || !n.startsWith('.')).map((n) => `${dir}/${n}`)
  return [...(await names('images', false)), ...(await names('containers', false)), ...(await names('tmp', true))].sort()
}

export interface RunResult {
  exitCode?: number
  stdout: string
  stderr: string
  timedOut: boolean
  signal?: string
}

/** Runs bin/ctr with --root ROOT (before a `--`, as test/helpers/cli.ts does). */
export async function runCtr(root: string, args: string[], options: {input?: string | Buffer; inputFile?: string; timeoutMs?: number; uid?: number; gid?: number} = {}): Promise<RunResult> {
  const end = args.indexOf('--')
  const argv = end < 0 ? [...args, '--root', root] : [...args.slice(0, end), '--root', root, ...args.slice(end)]
  const result = await execa(CTR, argv, {
    reject: false,
    input: options.input,
    inputFile: options.inputFile,
    stdin: options.input === undefined && options.inputFile === undefined ? 'ignore' : undefined,
    timeout: options.timeoutMs ?? 60_000,
    uid: options.uid,
    gid: options.gid,
    // A user other than root has a home of their own, not root's.
    env: options.uid ? {NO_COLOR: '1', HOME: '/nonexistent'} : {NO_COLOR: '1'},
  })
  return {exitCode: result.exitCode, stdout: String(result.stdout), stderr: String(result.stderr), timedOut: Boolean(result.timedOut), signal: result.signal ?? undefined}
}

/** Problems with a failing command's stderr: one `ctr: ` line, hint lines indented two spaces, no trace or usage. */
export function messageProblems(stderr: string, options: {hint?: boolean} = {}): string[] {
  const lines = stderr.replace(/\n+$/, '').split('\n')
  const problems: string[] = []
  if (!/^ctr: \S/.test(lines[0] ?? '')) problems.push(`first line is not "ctr: ...": ${JSON.stringify(lines[0] ?? '')}`)
  const rest = lines.slice(1)
  const bad = rest.filter((l) => !l.startsWith('  '))
  if (bad.length > 0) problems.push(`${bad.length} line(s) that are neither the message nor a hint, e.g. ${JSON.stringify(bad[0])}`)
  if (lines.some((l) => /^\s+at .+\(?.*:\d+:\d+\)?$/.test(l) || /^\s+at /.test(l))) problems.push('a stack trace')
  if (/USAGE|See more help|›/.test(stderr)) problems.push('an oclif usage dump or error block')
  if (options.hint !== false && rest.length === 0) problems.push('no hint line (what to do)')
  if (rest.length > 6) problems.push(`${rest.length} hint lines`)
  return problems
}

export interface Case {
  name: string
  args: string[]
  /** Standard input: text or bytes, or a file. */
  stdin?: string | Buffer | {file: string}
  setup?: () => Promise<void>
  /** Expected exit code; several when more than one outcome is safe (e.g. refused, or contained in the tree). */
  expectExit: number | number[]
  /** Expected CtrError code under --json. */
  expectCode?: string | RegExp
  /** What the message (the first line) must say. */
  message?: RegExp
  /** Also run with --json (default: when a failure is expected). */
  json?: boolean
  /** Require a hint line (default true). */
  hint?: boolean
  timeoutMs?: number
  root?: string
  uid?: number
  gid?: number
  /** Extra post-conditions: returns problems (empty when fine). */
  check?: (result: RunResult) => Promise<string[]>
}

export interface Outcome {
  group: string
  name: string
  exit: string
  verdict: 'refused as expected' | 'accepted as expected' | 'failed'
  /** The first line of stderr (what ctr said). */
  said: string
  outside: string[]
  problems: string[]
  seconds: number
}

export const outcomes: Outcome[] = []

function codeMatches(expected: string | RegExp, actual: unknown): boolean {
  return typeof expected === 'string' ? actual === expected : typeof actual === 'string' && expected.test(actual)
}

/** All the error codes in a --json report: {error: {code}} or items with errors. */
function jsonCodes(value: unknown): string[] {
  const codes: string[] = []
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk)
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>
      if (o.error && typeof o.error === 'object' && typeof (o.error as {code?: unknown}).code === 'string') codes.push((o.error as {code: string}).code)
      Object.values(o).forEach(walk)
    }
  }
  walk(value)
  return codes
}

/**
 * Runs one case against the real CLI and returns its problems (empty when it held). The caller
 * asserts them, so vitest shows every reason at once.
 */
export async function runCase(sentinel: Sentinel, group: string, c: Case): Promise<string[]> {
  const started = Date.now()
  const root = c.root ?? sentinel.root
  const problems: string[] = []
  const expected = Array.isArray(c.expectExit) ? c.expectExit : [c.expectExit]
  const refusal = !expected.includes(0)
  await c.setup?.()
  const before = await sentinel.sum()
  const hostBefore = await hostSnapshot()
  const stateBefore = await rootState(root)
  const options = {
    input: typeof c.stdin === 'string' || Buffer.isBuffer(c.stdin) ? c.stdin : undefined,
    inputFile: c.stdin && typeof c.stdin === 'object' && !Buffer.isBuffer(c.stdin) ? c.stdin.file : undefined,
    timeoutMs: c.timeoutMs,
    uid: c.uid,
    gid: c.gid,
  }
  const result = await runCtr(root, c.args, options)
  const exit = result.timedOut ? 'hung (killed)' : String(result.exitCode ?? result.signal)
  if (result.timedOut) problems.push(`did not finish within ${(c.timeoutMs ?? 60_000) / 1000} s (hangs)`)
  else if (!expected.includes(result.exitCode ?? -1)) problems.push(`exit ${result.exitCode ?? result.signal}, expected ${expected.join(' or ')}`)
  const failed = !result.timedOut && result.exitCode !== 0
  const jsonArgs = c.args.includes('--json')
  if (failed && jsonArgs && result.stderr.trim() !== '') problems.push(`--json: stderr is not empty: ${JSON.stringify(result.stderr.split('\n')[0])}`)
  if (failed && !jsonArgs) {
    problems.push(...messageProblems(result.stderr, {hint: c.hint}).map((p) => `stderr: ${p}`))
    if (c.message && !c.message.test(result.stderr.split('\n')[0] ?? '')) problems.push(`message ${JSON.stringify(result.stderr.split('\n')[0])} does not match ${c.message}`)
  }
  if (!result.timedOut && !jsonArgs && (c.json ?? refusal)) {
    const json = await runCtr(root, [...c.args.slice(0, c.args.indexOf('--') < 0 ? c.args.length : c.args.indexOf('--')), '--json', ...(c.args.indexOf('--') < 0 ? [] : c.args.slice(c.args.indexOf('--')))], options)
    if (json.timedOut) problems.push('--json: hangs')
    else {
      if (!expected.includes(json.exitCode ?? -1)) problems.push(`--json: exit ${json.exitCode}, expected ${expected.join(' or ')}`)
      if (json.exitCode !== 0 && json.stderr.trim() !== '') problems.push(`--json: stderr is not empty: ${JSON.stringify(json.stderr.split('\n')[0])}`)
      let report: unknown
      try {
        report = JSON.parse(json.stdout)
      } catch {
        problems.push(`--json: stdout is not JSON: ${JSON.stringify(json.stdout.slice(0, 80))}`)
      }
      if (report !== undefined && json.exitCode !== 0 && c.expectCode) {
        const codes = jsonCodes(report)
        if (!codes.some((code) => codeMatches(c.expectCode!, code))) problems.push(`--json: code ${codes.join(',') || 'none'}, expected ${c.expectCode}`)
      }
    }
  }
  const outside = differences(before, await sentinel.sum())
  outside.push(...differences(hostBefore, await hostSnapshot()))
  if (outside.length > 0) problems.push(`changed outside the state root: ${outside.slice(0, 5).join('; ')}${outside.length > 5 ? ` (+${outside.length - 5})` : ''}`)
  if (refusal) {
    // Only what appeared: a refused command that swept a killed one's debris did right.
    const made = (await rootState(root)).filter((entry) => !stateBefore.includes(entry))
    if (made.length > 0) problems.push(`half-made state kept in the root: ${made.join('; ')}`)
  }
  if (c.check) problems.push(...(await c.check(result)))
  outcomes.push({
    group,
    name: c.name,
    exit,
    said: result.stderr.split('\n')[0] ?? '',
    verdict: problems.length > 0 ? 'failed' : result.exitCode === 0 ? 'accepted as expected' : 'refused as expected',
    outside,
    problems,
    seconds: (Date.now() - started) / 1000,
  })
  return problems
}

/** The readable end of the suite: counts, and every failed case with its reasons. */
export function summary(): string {
  const n = (v: Outcome['verdict']) => outcomes.filter((o) => o.verdict === v).length
  const outside = outcomes.filter((o) => o.outside.length > 0)
  const lines = [
    '',
    '=== ctr safety suite ===',
    `cases run:                       ${outcomes.length}`,
    `refused as expected:             ${n('refused as expected')}`,
    `accepted as expected (contained): ${n('accepted as expected')}`,
    `failed:                          ${n('failed')}`,
    `written outside the state root:  ${outside.length} case(s)${outside.length === 0 ? '' : ` (${outside.map((o) => o.name).join(', ')})`}`,
    '',
  ]
  for (const o of outcomes) lines.push(`${o.verdict === 'failed' ? 'FAIL' : 'ok  '} [${o.group}] ${o.name} -> exit ${o.exit} (${o.seconds.toFixed(1)} s)${o.said ? `\n       said: ${o.said.slice(0, 160)}` : ''}${o.problems.length ? `\n       ${o.problems.join('\n       ')}` : ''}`)
  return lines.join('\n')
}
