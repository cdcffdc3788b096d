/**
 * Boots a container with its held sockets handed over, by systemd's socket-activation rules
 * (sd_listen_fds(3)): the fds are 3, 4, ... in order, LISTEN_FDS counts them and LISTEN_PID must be
 * the pid of the process that reads them, i.e. nspawn itself. That pid is unknown before the fork,
 * so a shell trampoline exports its own pid ($$) and execs nspawn, which keeps the pid. nspawn then
 * passes the fds on to the container's systemd as LISTEN_FDS=N, LISTEN_PID=1.
 *
 * nspawn is a long-lived child with special fds, not a program that runs to completion, so it is
 * spawned here directly rather than through exec.ts's run().
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {closeSync, openSync, readFileSync} from 'node:fs'
import {constants} from 'node:os'
import {debug} from '../log.js'
import {closePidfd, killAndReap, pidfdOpen, posixSpawn, prepareSpawn, reap} from '../sys/spawn.js'

/**
 * $1: how many fds; $2: how many cgroup dirs, which follow; then nspawn's argv. The shell joins
 * each cgroup (a builtin echo, no fork) before it execs nspawn, which keeps its pid and cgroups.
 */
export const TRAMPOLINE = 'export LISTEN_PID=$$ LISTEN_FDS=$1; n=$2; shift 2; while [ "$n" -gt 0 ]; do echo $$ >"$1/cgroup.procs"; shift; n=$((n-1)); done; exec "$@"'

/**
 * argv that runs NSPAWN_ARGV with FD_COUNT passed sockets (the sockets are fds 3.. of the child),
 * in the cgroups CGROUP_DIRS (cgroups.ts).
 */
export function trampolineArgv(nspawnArgv: readonly string[], fdCount: number, cgroupDirs: readonly string[] = []): string[] {
  return ['/bin/sh', '-c', TRAMPOLINE, 'sh', String(fdCount), String(cgroupDirs.length), ...cgroupDirs, ...nspawnArgv]
}

/** The spawn stdio array: index k is the child's fd k, so FDS land on 3, 4, ... in order. */
export function stdioWithFds(fds: readonly number[], output: number): ['ignore', number, number, ...number[]] {
  return ['ignore', output, output, ...fds]
}

/**
 * The environment nspawn gets: PATH only, so that nothing of the activator's own environment
 * (a LISTEN_FDNAMES of a service manager that started it, say) leaks into the container.
 */
export function nspawnEnv(): Record<string, string> {
  return {PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'}
}

export interface SpawnedContainer {
  pid: number
  /** The last lines nspawn and the container's console printed (for a boot failure report). */
  outputTail: (lines?: number) => string[]
}

export type OnExit = (code: number | null, signal: NodeJS.Signals | null) => void

/** Where a pidfd is watched until it is readable (the activator's one poll). */
export interface ExitWatcher {
  watch(key: string, fds: readonly number[], onReadable: () => void): void
}

/** What spawnNspawn calls besides posix_spawn; tests replace the pidfd opener to make it fail. */
export interface SpawnDeps {
  pidfdOpen: (pid: number) => number
}

let pidfdWorks: boolean | undefined

/** pidfd_open(2) exists on this kernel (5.3 and later). Asked once; the answer also warms up the FFI. */
export function pidfdSupported(): boolean {
  if (pidfdWorks === undefined) {
    try {
      prepareSpawn()
      closePidfd(pidfdOpen(process.pid))
      pidfdWorks = true
    } catch {
      pidfdWorks = false
    }
  }
  return pidfdWorks
}

const signalNames = new Map<number, NodeJS.Signals>(Object.entries(constants.signals).map(([name, n]) => [n, name as NodeJS.Signals]))

/**
 * Spawns nspawn with FDS as its fds 3.., its output (nspawn's own messages and the container's
 * console) going straight into CONSOLE_LOG, truncated at each boot: the kernel writes it, so the
 * activator spends nothing on it while the container boots, and reads it only after a failure.
 * Its own session keeps a Ctrl-C meant for a foreground `ctr activator` from reaching containers;
 * the activator powers them off itself. ON_EXIT runs once, when nspawn has exited.
 *
 * posix_spawn where the kernel has pidfds (the exit is then seen by EXITS, the activator's poll),
 * else Node's spawn (a fork of the whole activator, about 4 ms more on the wake path).
 */
export function spawnNspawn(
  nspawnArgv: readonly string[],
  fds: readonly number[],
  consoleLog: string,
  exits: ExitWatcher,
  onExit: OnExit,
  deps: SpawnDeps = {pidfdOpen},
  cgroupDirs: readonly string[] = [],
): SpawnedContainer {
  const argv = trampolineArgv(nspawnArgv, fds.length, cgroupDirs)
  debug(`+ ${fds.length > 0 ? `LISTEN_FDS=${fds.length} (fds ${fds.join(',')} as 3..) ` : ''}${nspawnArgv.join(' ')} >${consoleLog}`)
  const outputTail = (lines = 8) => tailOf(consoleLog, lines)
  if (pidfdSupported()) {
    const pid = posixSpawn({path: argv[0], argv, env: nspawnEnv(), passFds: fds, outputPath: consoleLog, newSession: true})
    let pidfd: number
    try {
      pidfd = deps.pidfdOpen(pid)
    } catch (error) {
      // Without a pidfd nothing would see it exit: an nspawn running with the held sockets that no
      // one tracks, stops or reaps. It goes at once, and the boot fails (the caller reports it).
      const reaped = killAndReap(pid)
      const what = error instanceof Error ? error.message : String(error)
      throw Object.assign(new Error(`${what}; nspawn pid ${pid} was killed${reaped ? ' and reaped' : ', but could not be reaped'}`), {cause: error, pid})
    }
    const onReadable = () => {
      const status = reap(pid)
      if (!status) {
        exits.watch(`exit:${pid}`, [pidfd], onReadable)
        return
      }
      closePidfd(pidfd)
      onExit(status.code, status.signal === null ? null : (signalNames.get(status.signal) ?? 'SIGKILL'))
    }
    exits.watch(`exit:${pid}`, [pidfd], onReadable)
    return {pid, outputTail}
  }
  const out = openSync(consoleLog, 'w', 0o600)
  let child: ChildProcess
  try {
    child = spawn(argv[0], argv.slice(1), {stdio: stdioWithFds(fds, out), env: nspawnEnv(), detached: true})
  } finally {
    closeSync(out)
  }
  let exited = false
  const once: OnExit = (code, signal) => {
    if (exited) return
    exited = true
    onExit(code, signal)
  }
  child.once('error', () => once(127, null))
  child.once('exit', once)
  // pid is undefined when spawn failed at once (ENOENT and the like); 'error' follows.
  return {pid: child.pid ?? -1, outputTail}
}

/** The last LINES non-empty lines of a file, without the console's ANSI colours. */
export function tailOf(path: string, lines: number): string[] {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch {
    return []
  }
  return text
    .split(/\r?\n/)
    .map((line) => line.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').trimEnd())
    .filter(Boolean)
    .slice(-lines)
}
