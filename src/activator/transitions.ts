/**
 * What the activator does when a container's nspawn exits: the pure half of the
 * watch -> boot -> watch state machine, so it can be tested without booting anything.
 */
import type {StopReason} from '../status/types.js'

/** nspawn's exit status when the container asked to reboot (systemd-nspawn(1)). */
export const NSPAWN_REBOOT_EXIT = 133

/**
 * Reboots in a row, each soon after its boot, are a loop (a unit that runs `systemctl reboot`, a
 * default target that is reboot.target): each is delayed longer than the last, and after
 * REBOOT_LOOP_LIMIT of them the container is left listening with the reason, instead of burning
 * the CPU on boots for ever. The next connection (or ctr start --now) tries again from zero.
 */
export interface RebootPolicy {
  /** A boot that ran less than this before asking to reboot counts as a quick reboot. */
  quickMs: number
  /** The pause before the second quick reboot in a row; doubled for each one after it. */
  firstDelayMs: number
  maxDelayMs: number
  /** This many quick reboots in a row: no more boots; the container is left listening. */
  limit: number
}

export const REBOOT_POLICY: RebootPolicy = {quickMs: 60_000, firstDelayMs: 1000, maxDelayMs: 30_000, limit: 8}

export type RebootDecision =
  | {next: 'boot'; delayMs: number; quickReboots: number}
  | {next: 'watch'; reason: 'reboot-loop'; quickReboots: number}

/**
 * What to do when the container asks to reboot after running RAN_MS, QUICK_BEFORE quick reboots in
 * a row having come before it: at once (the first, or after a long run), then 1, 2, 4 ... s up to
 * the cap; the LIMITth quick one in a row is not rebooted.
 */
export function afterReboot(ranMs: number, quickBefore: number, policy: RebootPolicy = REBOOT_POLICY): RebootDecision {
  if (ranMs >= policy.quickMs) return {next: 'boot', delayMs: 0, quickReboots: 0}
  const quickReboots = quickBefore + 1
  if (quickReboots >= policy.limit) return {next: 'watch', reason: 'reboot-loop', quickReboots}
  const delayMs = quickReboots === 1 ? 0 : Math.min(policy.maxDelayMs, policy.firstDelayMs * 2 ** (quickReboots - 2))
  return {next: 'boot', delayMs, quickReboots}
}

/** The one line a container left listening after a reboot loop gets in its history. */
export function rebootLoopMessage(quickReboots: number, policy: RebootPolicy = REBOOT_POLICY): string {
  return `rebooted ${quickReboots} times in a row, each within ${Math.round(policy.quickMs / 1000)} s of booting: left listening, the next connection boots it again`
}

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
  /** How long this boot ran, and how many quick reboots in a row came before it (see afterReboot). */
  ranMs?: number
  quickReboots?: number
  policy?: RebootPolicy
}

export type AfterExit =
  /** Boot again after DELAY_MS (the container rebooted itself). */
  | {next: 'boot'; delayMs: number; quickReboots: number}
  /** Hold the ports and watch them again. dropQueued: accept-and-close what waits, see dropQueued(). */
  | {next: 'watch'; reason: StopReason; dropQueued: boolean; quickReboots?: number}
  /** Close the sockets: the container is no longer held. */
  | {next: 'release'; reason: StopReason}

export function afterExit(facts: ExitFacts): AfterExit {
  if (facts.stopRequest) {
    return facts.stopRequest.keepPorts
      ? {next: 'watch', reason: facts.stopRequest.reason, dropQueued: false}
      : {next: 'release', reason: facts.stopRequest.reason}
  }
  if (facts.code === NSPAWN_REBOOT_EXIT) {
    const reboot = afterReboot(facts.ranMs ?? 0, facts.quickReboots ?? 0, facts.policy)
    // A loop woken by a connection would be woken again at once by the same connection: close it.
    return reboot.next === 'boot' ? reboot : {next: 'watch', reason: reboot.reason, dropQueued: true, quickReboots: reboot.quickReboots}
  }
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
