/**
 * Bench section idle (issue 5): a container with a short idle timeout, woken by a real ssh; the
 * time from the session's end to the container gone (nspawn exited, the port watched again),
 * against the timeout, split into the activator noticing no connection and the poweroff itself.
 */
import {rm} from 'node:fs/promises'
import {setTimeout as sleep} from 'node:timers/promises'
import {callActivator} from '../../src/activator/client.js'
import {createContainer} from '../../src/containers/create.js'
import {DEFAULT_IDLE_CHECK_MS} from '../../src/activator/activator.js'
import {canBind} from '../../src/sys/socket.js'
import {makeKeyPair, ssh} from '../helpers/ssh.js'
import {freePortRange} from './activator.js'
import {logActivatorTail, processRunning, statusOf, withActivator, type Log} from './held.js'
import {median} from './stats.js'

export interface IdleRound {
  /** From ssh's exit to the activator's idle rule first seeing no connection (its idle clock starts). */
  closeToIdleSeenMs?: number
  /** From ssh's exit (its connection closed) to the activator starting the poweroff. */
  closeToStoppingMs: number
  /** ... to the nspawn process gone. */
  closeToGoneMs: number
  /** ... to the activator watching the port again. */
  closeToListeningMs: number
  stopReason?: string
  portHeld: boolean
}

export interface IdleBench {
  timeoutSec: number
  idleCheckMs?: number
  rounds: IdleRound[]
  closeToGoneMedianMs: number
  closeToStoppingMedianMs: number
  /** Median of closeToGone minus the timeout. */
  overshootMedianMs: number
  allIdleStops: boolean
  allPortsHeld: boolean
  /** ssh runs that failed (each should have succeeded: nothing is refused or reset). */
  sshFailures: string[]
}

/** Polls the activator from the moment the last connection closed until the container is gone. */
async function watchIdlePoweroff(root: string, name: string, closedAt: number, limitMs: number): Promise<IdleRound> {
  let pid: number | undefined
  let idleSeen: number | undefined
  let stopping: number | undefined
  let gone: number | undefined
  for (;;) {
    const status = await statusOf(root, name)
    const t = performance.now() - closedAt
    pid ??= status.pid
    if (status.idleRemainingSec !== undefined) idleSeen ??= t
    if (status.state === 'stopping') stopping ??= t
    if (pid !== undefined && !processRunning(pid)) gone ??= t
    if (status.state === 'listening') {
      stopping ??= t
      gone ??= t
      return {closeToIdleSeenMs: idleSeen, closeToStoppingMs: stopping, closeToGoneMs: gone, closeToListeningMs: t, stopReason: status.lastStopReason, portHeld: !canBind(status.ports[0].port).ok}
    }
    if (t > limitMs) throw new Error(`${name} still ${status.state} ${Math.round(t / 1000)} s after its last connection closed`)
    await sleep(pid !== undefined && !processRunning(pid) ? 10 : 50)
  }
}

export async function benchIdle(root: string, log: Log): Promise<IdleBench> {
  const rounds = Number(process.env.CTR_BENCH_IDLE_ROUNDS ?? 5)
  const timeoutSec = Number(process.env.CTR_BENCH_IDLE_TIMEOUT ?? 5)
  const idleCheckMs = DEFAULT_IDLE_CHECK_MS
  const port = freePortRange(30000, 30999)
  const name = 'bench-idle'
  const key = await makeKeyPair()
  try {
    await createContainer(root, {distro: 'debian', name, ports: [{port, service: 'ssh'}], idleTimeoutSec: timeoutSec, sshKeyFiles: [key.pub]})
    log(`idle: ${name} on port ${port}, idle timeout ${timeoutSec} s, activator idle check every ${idleCheckMs} ms (its default); ${rounds} rounds of ssh true -> powered off`)
    const sshFailures: string[] = []
    const limitMs = timeoutSec * 1000 + 3 * idleCheckMs + 60_000
    const samples = await withActivator(root, [name], log, async () => {
      await callActivator(root, {op: 'start', name, now: false})
      const out: IdleRound[] = []
      for (let i = 0; i < rounds; i++) {
        // Each ssh after the first also shows that a container powered off for idleness wakes again.
        const result = await ssh(key.key, port, 'true')
        const closedAt = performance.now()
        if (result.exitCode !== 0) {
          // A finding, not the end of the run: the container (if it booted) still idles out.
          sshFailures.push(`round ${i + 1}: exit ${result.exitCode}: ${result.stderr.trim()}`)
          log(`idle: round ${i + 1}: ssh FAILED (exit ${result.exitCode}): ${result.stderr.trim()}`)
          logActivatorTail(root, log, 8)
          await watchIdlePoweroff(root, name, closedAt, limitMs).catch(() => {})
          continue
        }
        const round = await watchIdlePoweroff(root, name, closedAt, limitMs)
        out.push(round)
        log(
          `idle: round ${i + 1}: idle rule saw no connection ${round.closeToIdleSeenMs === undefined ? '?' : (round.closeToIdleSeenMs / 1000).toFixed(2)} s after the session closed, poweroff began at ${(round.closeToStoppingMs / 1000).toFixed(2)} s, ` +
            `nspawn gone at ${(round.closeToGoneMs / 1000).toFixed(2)} s, port watched again at ${(round.closeToListeningMs / 1000).toFixed(2)} s ` +
            `(reason ${round.stopReason}, port ${round.portHeld ? 'held' : 'NOT held'})`,
        )
      }
      return out
    })
    const gone = median(samples.map((s) => s.closeToGoneMs))
    const result: IdleBench = {
      timeoutSec,
      idleCheckMs,
      rounds: samples,
      closeToGoneMedianMs: gone,
      closeToStoppingMedianMs: median(samples.map((s) => s.closeToStoppingMs)),
      overshootMedianMs: gone - timeoutSec * 1000,
      allIdleStops: samples.every((s) => s.stopReason === 'idle'),
      allPortsHeld: samples.every((s) => s.portHeld),
      sshFailures,
    }
    log(
      `idle: median ${(gone / 1000).toFixed(2)} s from the last connection closing to the container gone, against a ${timeoutSec} s timeout ` +
        `(+${(result.overshootMedianMs / 1000).toFixed(2)} s; the rule is checked every ${idleCheckMs} ms; poweroff itself ${((gone - result.closeToStoppingMedianMs) / 1000).toFixed(2)} s); ` +
        `${sshFailures.length} of ${rounds} ssh runs failed`,
    )
    return result
  } finally {
    await rm(key.dir, {recursive: true, force: true})
  }
}
