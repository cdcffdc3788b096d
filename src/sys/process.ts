/** Processes ctr started, by pid (never by name): is one alive, stopping it the orderly way, its priority. */
import {setPriority} from 'node:os'
import {setTimeout as sleep} from 'node:timers/promises'
import {processGone} from '../activator/proc.js'

/** PID runs (a zombie does not: it has exited, and holds nothing, though no one reaped it yet). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
  } catch {
    return false
  }
  return !processGone(pid)
}

/** Sends a signal (a name, or a number such as a realtime signal) to PID; a process already gone is fine. */
export function signal(pid: number, name: NodeJS.Signals | number): void {
  try {
    process.kill(pid, name)
  } catch {}
}

/**
 * SIGTERM to each (for systemd-nspawn: an orderly poweroff of the container), SIGKILL to those
 * still alive after GRACE_MS; resolves when all are gone.
 */
export async function terminate(pids: readonly number[], graceMs: number): Promise<void> {
  for (const pid of pids) signal(pid, 'SIGTERM')
  const deadline = Date.now() + graceMs
  while (pids.some(isAlive) && Date.now() < deadline) await sleep(50)
  for (const pid of pids.filter(isAlive)) signal(pid, 'SIGKILL')
  while (pids.some(isAlive)) await sleep(20)
}

/** nice 10 for PID (a takeover's activator while it starts up); no error if it is gone already. */
export function lowerPriority(pid: number): void {
  try {
    setPriority(pid, 10)
  } catch {}
}

/** This process back at nice 0 (root may raise its priority again). */
export function normalPriority(): void {
  try {
    setPriority(0)
  } catch {}
}
