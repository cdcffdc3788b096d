/**
 * Open `ctr shell` sessions, as files the idle rule reads: a shell is activity, as a connection is,
 * so a container does not power off under it. A TCP session is seen in /proc/net/tcp; a shell
 * entered with nsenter leaves no such trace, so the CLI that runs it says so itself.
 *
 * They are files, not something the activator keeps in memory, because any activator may take
 * over at any time (a restart, an upgrade, one started after a SIGKILL) and must see the shells
 * opened under the one before. ROOT/activator/sessions/NAME/PID holds the start time of PID (the
 * CLI process); a file whose process is gone, or whose pid now names another process (start time
 * differs), is stale: ignored and removed by the next reader. So a CLI killed with SIGKILL costs
 * at most one stale file, never a container kept up for good.
 */
import {mkdirSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'
import {validateName} from '../names.js'
import {assertUnderRoot, layout} from '../store/paths.js'
import {processStartTime} from './proc.js'

export interface Session {
  /** Removes the session's file (again: harmless). */
  close(): void
}

/** ROOT/activator/sessions/NAME: one file per open shell of container NAME. */
export function sessionsDir(root: string, name: string): string {
  return assertUnderRoot(root, join(layout(root).activatorDir, 'sessions', validateName(name)))
}

/**
 * Records PID (this process unless told) as an open session of container NAME. The file is
 * written under a dot name and renamed, so a reader never sees one half written.
 */
export function openSession(root: string, name: string, pid: number = process.pid): Session {
  const started = processStartTime(pid)
  if (started === undefined) throw new Error(`cannot read the start time of pid ${pid} from /proc`)
  const dir = sessionsDir(root, name)
  mkdirSync(dir, {recursive: true, mode: 0o700})
  const file = join(dir, String(pid))
  const partial = join(dir, `.${pid}.tmp`)
  writeFileSync(partial, `${started}\n`, {mode: 0o600})
  renameSync(partial, file)
  // The directory is left in place when the last session ends: removing it could race with the
  // next shell writing its file there. It is a few bytes; `ctr rm` removes it.
  return {close: () => rmSync(file, {force: true})}
}

/**
 * How many sessions of container NAME are open: files whose pid still runs with the start time
 * recorded. Stale files are removed. Cheap when there are none (one readdir of a missing or empty
 * directory), as it runs once a second for every running container with an idle timeout.
 */
export function liveSessions(root: string, name: string): number {
  const dir = sessionsDir(root, name)
  let entries: string[]
  try {
    entries = readdirSync(dir)
  } catch {
    return 0
  }
  let live = 0
  for (const entry of entries) {
    const file = join(dir, entry)
    const partial = /^\.(\d+)\.tmp$/.exec(entry)
    if (partial) {
      // A file being written, or left by a CLI killed between write and rename.
      if (processStartTime(Number(partial[1])) === undefined) rmSync(file, {force: true})
      continue
    }
    if (!/^\d+$/.test(entry)) continue
    const recorded = readOr(file, undefined)?.trim()
    if (recorded === undefined) continue // closed meanwhile
    const running = processStartTime(Number(entry))
    if (running !== undefined && running === recorded) live++
    // Stale, unless a new process that got the same pid has just put its own file there.
    else if (running === undefined || readOr(file, '').trim() !== running) rmSync(file, {force: true})
    else live++
  }
  return live
}

function readOr<T>(file: string, fallback: T): string | T {
  try {
    return readFileSync(file, 'utf8')
  } catch {
    return fallback
  }
}
