/**
 * ctr shell: a root shell (or a command) inside a running container, entering all namespaces of
 * its PID 1 with nsenter, with no more capabilities than the container has (src/nspawn/enter.ts).
 * A sleeping container is woken first.
 */
import {spawn} from 'node:child_process'
import {callActivator, ensureActivator} from '../activator/client.js'
import {capabilityBoundingSet} from '../activator/proc.js'
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
export function shellArgv(leader: number, boundingSet: bigint | undefined, command: readonly string[]): string[] {
  const inner = command.length > 0 ? ['/bin/sh', '-c', 'exec "$@"', 'sh', ...command] : ['/bin/sh', '-c', 'cd "$HOME" 2>/dev/null; exec "$(command -v bash || echo /bin/sh)" -l']
  return enterArgv({leader, boundingSet}, inner)
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

/** Runs the shell with the terminal attached; resolves with its exit code. */
export async function runShell(root: string, name: string, command: readonly string[] = []): Promise<number> {
  const leader = await wakeContainer(root, name)
  const argv = shellArgv(leader, capabilityBoundingSet(leader), command)
  argv[argv.indexOf('nsenter')] = requireProgram('nsenter')
  debug(`+ ${argv.join(' ')}`)
  const child = spawn(requireProgram(argv[0]), argv.slice(1), {stdio: 'inherit', env: shellEnv(process.env.TERM)})
  return new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)))
  })
}
