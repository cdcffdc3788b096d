/**
 * What the scale-to-zero sections of the bench share: an activator of their own for the bench
 * root (stopped by pid at the end), the status of one container, and how long a port is held
 * before a cold connection.
 */
import {readFileSync} from 'node:fs'
import {callActivator, ensureActivator} from '../../src/activator/client.js'
import {activatorLog} from '../../src/activator/protocol.js'
import type {ContainerStatus} from '../../src/status/types.js'
import {stopPid} from '../helpers/cleanup.js'

export type Log = (line: string) => void

/** A sleeping container's port is held long before anyone connects; cold rounds wait this long. */
export const HELD_MS = 300
/** After boot finished, time for the connection's sshd to exit before memory is read. */
export const IDLE_SETTLE_MS = 1500

export const mb = (bytes: number | undefined) => (bytes === undefined ? '?' : `${(bytes / 1e6).toFixed(1)} MB`)
export const kb = (bytes: number) => `${(bytes / 1e3).toFixed(0)} KB`

/**
 * Runs BODY with an activator for ROOT, then lets NAMES go (so that the next section's activator
 * does not hold them again from held.json) and stops it by pid. When BODY fails, the end of the
 * activator's log goes to LOG first: the bench root, and the log with it, is removed afterwards.
 */
export async function withActivator<T>(root: string, names: readonly string[], log: Log, body: (pid: number) => Promise<T>): Promise<T> {
  const {pid} = await ensureActivator(root)
  try {
    return await body(pid)
  } catch (error) {
    logActivatorTail(root, log)
    throw error
  } finally {
    for (const name of names) await callActivator(root, {op: 'stop', name, keepPorts: false}).catch(() => {})
    // SIGTERM: the activator powers off whatever still runs (in order), then exits.
    await stopPid(pid, 60_000)
  }
}

export async function statusOf(root: string, name: string): Promise<ContainerStatus> {
  const found = (await callActivator(root, {op: 'status'})).containers.find((c) => c.name === name)
  if (!found) throw new Error(`the activator does not know ${name}`)
  return found
}

/** false once the process exited (a zombie not reaped yet counts as exited). */
export function processRunning(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8')
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z'
  } catch {
    return false
  }
}

export function logActivatorTail(root: string, log: Log, lines = 20): void {
  let text = ''
  try {
    text = readFileSync(activatorLog(root), 'utf8')
  } catch {}
  for (const line of text.trimEnd().split('\n').slice(-lines)) log(`  activator log: ${line}`)
}

/** After a failed cold round: the container powered off with its ports held, ready for the next. */
export async function backToSleep(root: string, name: string): Promise<void> {
  const status = await statusOf(root, name).catch(() => undefined)
  if (status && status.state !== 'listening') await callActivator(root, {op: 'stop', name, keepPorts: true}).catch(() => {})
}

export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
