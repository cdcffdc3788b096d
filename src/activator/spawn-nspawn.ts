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
import {debug} from '../log.js'

export const TRAMPOLINE = 'export LISTEN_PID=$$ LISTEN_FDS=$1; shift; exec "$@"'

/** argv that runs NSPAWN_ARGV with FD_COUNT passed sockets (the sockets are fds 3.. of the child). */
export function trampolineArgv(nspawnArgv: readonly string[], fdCount: number): string[] {
  if (fdCount === 0) return [...nspawnArgv]
  return ['/bin/sh', '-c', TRAMPOLINE, 'sh', String(fdCount), ...nspawnArgv]
}

/** The spawn stdio array: index k is the child's fd k, so FDS land on 3, 4, ... in order. */
export function stdioWithFds(fds: readonly number[]): ['ignore', 'pipe', 'pipe', ...number[]] {
  return ['ignore', 'pipe', 'pipe', ...fds]
}

/**
 * The environment nspawn gets: PATH only, so that nothing of the activator's own environment
 * (a LISTEN_FDNAMES of a service manager that started it, say) leaks into the container.
 */
export function nspawnEnv(): Record<string, string> {
  return {PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'}
}

export interface SpawnedContainer {
  child: ChildProcess
  pid: number
  /** The last lines nspawn and the container's console printed (for a boot failure report). */
  outputTail: () => string[]
}

const TAIL_LINES = 20

/**
 * Spawns nspawn with FDS as its fds 3... Its own process group (detached) keeps a Ctrl-C meant for
 * a foreground `ctr activator` from reaching containers; the activator powers them off itself.
 */
export function spawnNspawn(nspawnArgv: readonly string[], fds: readonly number[], onLine?: (line: string) => void): SpawnedContainer {
  const argv = trampolineArgv(nspawnArgv, fds.length)
  debug(`+ ${fds.length > 0 ? `LISTEN_FDS=${fds.length} (fds ${fds.join(',')} as 3..) ` : ''}${nspawnArgv.join(' ')}`)
  const child = spawn(argv[0], argv.slice(1), {stdio: stdioWithFds(fds), env: nspawnEnv(), detached: true})
  const lines: string[] = []
  for (const stream of [child.stdout, child.stderr]) {
    let pending = ''
    stream?.setEncoding('utf8')
    stream?.on('data', (chunk: string) => {
      pending += chunk
      const parts = pending.split(/\r?\n/)
      pending = parts.pop() ?? ''
      for (const line of parts) {
        // The console speaks ANSI colours; the report does not need them.
        const clean = line.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '').trimEnd()
        if (!clean) continue
        lines.push(clean)
        if (lines.length > TAIL_LINES) lines.shift()
        onLine?.(clean)
      }
    })
  }
  if (child.pid === undefined) {
    // spawn failed synchronously-ish (ENOENT etc.): the 'error' event says why.
    return {child, pid: -1, outputTail: () => lines}
  }
  return {child, pid: child.pid, outputTail: () => lines}
}
