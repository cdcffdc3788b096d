/**
 * ctr shell: a root shell (or a command) inside a running container, entering all namespaces of
 * its PID 1 with nsenter, with no more capabilities than the container has (src/nspawn/enter.ts).
 * A sleeping container is woken first; an open shell keeps it from going idle.
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {constants} from 'node:os'
import {callActivator, ensureActivator} from '../activator/client.js'
import {limitCgroupDirs} from '../activator/cgroups.js'
import {capabilityBoundingSet, processParents} from '../activator/proc.js'
import {hostHasSystemd} from '../nspawn/argv.js'
import {openSession} from '../activator/sessions.js'
import {requireProgram} from '../exec.js'
import {debug} from '../log.js'
import {enterArgv} from '../nspawn/enter.js'
import {getContainer} from '../store/containers.js'

const CONTAINER_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'

/**
 * The shell inside LEADER's container: a login shell starts in root's home (as with machinectl
 * shell or ssh); a command runs in /. Only the container's /bin/sh runs from its tree: the
 * environment is set by ctr (shellEnv), not by a program of the container's.
 */
export function shellArgv(leader: number, boundingSet: bigint | undefined, command: readonly string[], cgroupDirs: readonly string[] = []): string[] {
  const inner = command.length > 0 ? ['/bin/sh', '-c', 'exec "$@"', 'sh', ...command] : ['/bin/sh', '-c', 'cd "$HOME" 2>/dev/null; exec "$(command -v bash || echo /bin/sh)" -l']
  return enterArgv({leader, boundingSet, cgroupDirs}, inner)
}

/** A clean environment, as a login inside would have. */
export function shellEnv(term = 'dumb'): Record<string, string> {
  return {TERM: term, HOME: '/root', USER: 'root', LOGNAME: 'root', PATH: CONTAINER_PATH}
}

/** Wakes the container if needed; returns the host pid of its PID 1. */
export async function wakeContainer(root: string, name: string): Promise<number> {
  await getContainer(root, name)
  await ensureActivator(root)
  return (await callActivator(root, {op: 'wake', name})).leader
}

/** Signals that end the CLI by default: passed to the shell, whose end the CLI then waits for. */
const FORWARDED_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const

/**
 * Runs the shell with the terminal attached; resolves with its exit code. While it runs it is an
 * open session of the container (activator/sessions.ts), which the idle rule counts as activity:
 * recorded before the wake (so a running container cannot go idle between the wake and the
 * shell) and removed when the shell has ended, also when the CLI is told to end.
 */
export async function runShell(root: string, name: string, command: readonly string[] = []): Promise<number> {
  await getContainer(root, name)
  const session = openSession(root, name)
  try {
    const leader = await wakeContainer(root, name)
    const argv = shellArgv(leader, capabilityBoundingSet(leader), command, hostHasSystemd() ? [] : limitCgroupDirs(root, name))
    argv[argv.indexOf('nsenter')] = requireProgram('nsenter')
    debug(`+ ${argv.join(' ')}`)
    const child = spawn(requireProgram(argv[0]), argv.slice(1), {stdio: 'inherit', env: shellEnv(process.env.TERM)})
    return await waitForwardingSignals(child)
  } finally {
    session.close()
  }
}

/**
 * CHILD's exit code; SIGINT, SIGTERM and SIGHUP sent to the CLI meanwhile are passed on instead of
 * ending the CLI first (which would leave the shell running and its session file behind). Passed
 * to what nsenter runs, not to nsenter: nsenter forks the program into the container's pid
 * namespace and does not pass signals on; killed itself, it leaves the program running (util-linux
 * 2.38, tried). The program's end then ends nsenter with the same status. Not SIGINT when stdin is
 * a terminal: Ctrl-C there already reached the program itself (it is in the CLI's foreground
 * process group, or a job-control shell holds the terminal), and a second one would interrupt its
 * handling of the first.
 */
function waitForwardingSignals(child: ChildProcess): Promise<number> {
  const forward = (signal: NodeJS.Signals) => {
    if (signal === 'SIGINT' && process.stdin.isTTY) return
    const nsenter = child.pid
    if (nsenter === undefined) return
    const inside = [...processParents()].filter(([, parent]) => parent === nsenter).map(([pid]) => pid)
    // Before nsenter has forked, it is the program to signal.
    for (const pid of inside.length > 0 ? inside : [nsenter]) {
      try {
        process.kill(pid, signal)
      } catch {}
    }
  }
  for (const signal of FORWARDED_SIGNALS) process.on(signal, forward)
  const done = () => {
    for (const signal of FORWARDED_SIGNALS) process.off(signal, forward)
  }
  return new Promise((resolve, reject) => {
    child.once('error', (error) => {
      done()
      reject(error)
    })
    child.once('exit', (code, signal) => {
      done()
      // Killed by a signal: 128 + its number, as a shell reports it.
      resolve(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 1))
    })
  })
}
