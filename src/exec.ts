/**
 * The one place that runs external programs. Everything that decides *what* to run builds a
 * pure argv elsewhere; this module runs it, logs `+ argv` under --debug, streams output lines to
 * whoever shows progress, and turns a failure into a CtrError carrying the tool's stderr tail.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {execa, type ResultPromise} from 'execa'
import {accessSync, constants} from 'node:fs'
import {delimiter, join} from 'node:path'
import {CtrError} from './errors.js'
import {debug} from './log.js'

/** Which Debian package brings each program ctr runs, for the "install it" hint. */
export const PACKAGE_OF: Record<string, string> = {
  debootstrap: 'debootstrap',
  'systemd-nspawn': 'systemd-container',
  journalctl: 'systemd',
  'ssh-keygen': 'openssh-client',
  ssh: 'openssh-client',
  dnf: 'dnf',
  mount: 'mount',
  umount: 'mount',
  du: 'coreutils',
  cp: 'coreutils',
  'systemd-socket-activate': 'systemd',
  nsenter: 'util-linux',
  setpriv: 'util-linux',
  ip: 'iproute2',
  nft: 'nftables',
  sysctl: 'procps',
}

export interface RunOptions {
  cwd?: string
  env?: Record<string, string>
  input?: string
  /** Called with every line the program prints on stdout or stderr, as it prints it. */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void
  /** Aborting kills the program (SIGTERM) and makes run() reject with INTERRUPTED. */
  signal?: AbortSignal
  timeoutMs?: number
  /**
   * Run in a process group of its own, and on abort signal the whole group: a shell script such as
   * debootstrap leaves its children (dpkg in a chroot) running when only it is killed.
   */
  processGroup?: boolean
  /** Map a failure to a more precise error (e.g. an unreachable mirror) before the generic one. */
  classify?: (failure: {exitCode?: number; stderr: string; stdout: string}) => CtrError | undefined
}

export interface RunResult {
  stdout: string
  stderr: string
  exitCode: number
}

/** Finds a program on PATH (plus the sbin dirs, which a non-login root shell may lack). */
export function findProgram(program: string): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/bin', '/bin']
  for (const dir of dirs) {
    if (!dir) continue
    const candidate = join(dir, program)
    try {
      accessSync(candidate, constants.X_OK)
      return candidate
    } catch {}
  }
  return undefined
}

/** Throws MISSING_PROGRAM naming the Debian package when a program is not installed. */
export function requireProgram(program: string): string {
  const path = findProgram(program)
  if (path) return path
  const pkg = PACKAGE_OF[program] ?? program
  throw new CtrError('MISSING_PROGRAM', `${program} is not installed`, {hints: [`install it: apt-get install ${pkg}`]})
}

export function tail(text: string, lines = 8): string {
  return text.trimEnd().split('\n').slice(-lines).join('\n')
}

export async function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [program, ...args] = argv
  const path = requireProgram(program)
  debug(`+ ${argv.join(' ')}`)
  const child = execa(path, args, {
    cwd: options.cwd,
    env: options.env,
    input: options.input,
    stdin: options.input === undefined ? 'ignore' : undefined,
    reject: false,
    all: false,
    cancelSignal: options.processGroup ? undefined : options.signal,
    detached: options.processGroup ?? false,
    timeout: options.timeoutMs,
    forceKillAfterDelay: 5000,
    stripFinalNewline: true,
  }) as ResultPromise
  if (options.onLine) followLines(child, options.onLine)
  const killGroup = () => child.pid && signalGroup(child.pid)
  if (options.processGroup) options.signal?.addEventListener('abort', killGroup, {once: true})
  const result = await child.finally(() => options.signal?.removeEventListener('abort', killGroup))
  const stdout = String(result.stdout ?? '')
  const stderr = String(result.stderr ?? '')
  if (result.isCanceled || options.signal?.aborted) {
    throw new CtrError('INTERRUPTED', `${program} was interrupted`)
  }
  if (result.timedOut) {
    throw new CtrError('COMMAND_FAILED', `${program} timed out after ${options.timeoutMs} ms`, {hints: [tail(stderr, 3)].filter(Boolean)})
  }
  if (result.exitCode !== 0) {
    const failure = {exitCode: result.exitCode, stderr, stdout}
    const classified = options.classify?.(failure)
    if (classified) throw classified
    const detail = tail(stderr || stdout, 1)
    throw new CtrError('COMMAND_FAILED', `${program} failed (exit ${result.exitCode ?? result.signal})${detail ? `: ${detail}` : ''}`, {
      hints: stderr ? [`its last output:\n${tail(stderr)}`] : [],
    })
  }
  return {stdout, stderr, exitCode: 0}
}

/**
 * A program that has to be alive while ctr uses it rather than run to completion (one that holds
 * a namespace open, say): started with nothing of ctr's stdio, killed by the caller when done.
 */
export function startProgram(argv: readonly string[]): ChildProcess {
  const [program, ...args] = argv
  debug(`+ ${argv.join(' ')} &`)
  return spawn(requireProgram(program), args, {stdio: 'ignore'})
}

export interface TrackedRun<P> {
  signal?: AbortSignal
  /** Reads one output line; returns the new progress when the line moved it. */
  feed: (line: string) => P | undefined
  onProgress?: (progress: P) => void
  /** The error for a failure, from the whole output and its last lines (the interleaved tail of both streams). */
  fail: (output: string, lastLines: string) => CtrError | undefined
}

/**
 * A long tool run as its own process group (an abort ends it and its children), killed with ctr
 * (setpriv --pdeathsig: one that outlived a killed ctr would go on filling a staging dir the next
 * ctr sweeps away), its output lines moving a progress bar; a bootstrap, a package install.
 */
export async function runTracked<P>(argv: readonly string[], options: TrackedRun<P>): Promise<RunResult> {
  const output: string[] = []
  return run(['setpriv', '--pdeathsig', 'KILL', '--', ...argv], {
    signal: options.signal,
    processGroup: true,
    onLine: (line) => {
      output.push(line)
      if (output.length > 200) output.shift()
      const progress = options.feed(line)
      if (progress) options.onProgress?.(progress)
    },
    classify: ({stdout, stderr}) => options.fail(`${stdout}\n${stderr}`, tail(output.join('\n'))),
  })
}

function signalGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGTERM')
  } catch {}
}

function followLines(child: ResultPromise, onLine: NonNullable<RunOptions['onLine']>): void {
  for (const stream of ['stdout', 'stderr'] as const) {
    let pending = ''
    child[stream]?.on('data', (chunk: Buffer) => {
      pending += chunk.toString('utf8')
      const lines = pending.split('\n')
      pending = lines.pop() ?? ''
      for (const line of lines) onLine(line, stream)
    })
    child[stream]?.on('end', () => pending && onLine(pending, stream))
  }
}
