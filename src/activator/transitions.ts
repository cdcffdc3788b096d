/**
 * What the activator does when a container's nspawn exits: the pure half of the
 * watch -> boot -> watch state machine, so it can be tested without booting anything.
 */
import type {StopReason} from '../status/types.js'

/** nspawn's exit status when the container asked to reboot (systemd-nspawn(1)). */
export const NSPAWN_REBOOT_EXIT = 133

export interface StopRequest {
  /** true: power off but keep the ports held, so the next connection wakes it again. */
  keepPorts: boolean
  reason: Extract<StopReason, 'user' | 'idle'>
}

export interface ExitFacts {
  code: number | null
  signal: NodeJS.Signals | null
  /** A stop the activator asked for (SIGTERM to nspawn), if any. */
  stopRequest?: StopRequest
  /** The container served: it emptied the accept queue of the waking socket, or ran for a while. */
  served: boolean
}

export type AfterExit =
  /** Boot again at once (the container rebooted itself). */
  | {next: 'boot'}
  /** Hold the ports and watch them again. dropQueued: accept-and-close what waits, see dropQueued(). */
  | {next: 'watch'; reason: StopReason; dropQueued: boolean}
  /** Close the sockets: the container is no longer held. */
  | {next: 'release'; reason: StopReason}

export function afterExit(facts: ExitFacts): AfterExit {
  if (facts.stopRequest) {
    return facts.stopRequest.keepPorts
      ? {next: 'watch', reason: facts.stopRequest.reason, dropQueued: false}
      : {next: 'release', reason: facts.stopRequest.reason}
  }
  if (facts.code === NSPAWN_REBOOT_EXIT) return {next: 'boot'}
  if (facts.code === 0) return {next: 'watch', reason: 'exited', dropQueued: false}
  // A container that never got as far as accepting failed to boot: the connections that woke it
  // would wake it again at once, in a loop. They are closed instead (the client sees it at once),
  // and the next new connection is the next try.
  if (!facts.served) return {next: 'watch', reason: 'boot-failed', dropQueued: true}
  return {next: 'watch', reason: 'crashed', dropQueued: false}
}

/** A one-line account of an exit, for the log and for a boot failure report. */
export function describeExit(code: number | null, signal: NodeJS.Signals | null): string {
  if (signal) return `killed by ${signal}`
  if (code === NSPAWN_REBOOT_EXIT) return 'exit 133 (reboot)'
  return `exit ${code}`
}
