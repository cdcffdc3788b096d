/**
 * Bench section client-rate: how many connections a second running containers' sshd can greet on
 * this machine, which sets the rate of the client loops of the faults and cgroups suites. Each
 * connection to a ctr ssh port is a new `sshd -i` (Accept=yes), started by the container's
 * systemd: tens of ms of CPU. A loop that fires faster than the machine greets builds a queue
 * without end (the loop fires whether or not the last one answered, faults/probe.ts), and its
 * connections time out: that is an overload of the test, not a lost connection of ctr's.
 *
 * Two running containers; for each step a loop fires at one or both for 15 s. Printed per step:
 * connections a second, connect -> banner p50/p99, and how busy the CPUs were (/proc/stat). The
 * baseline is the first step, one container at 25 a second.
 */
import {readFileSync} from 'node:fs'
import {rm} from 'node:fs/promises'
import {setTimeout as sleep} from 'node:timers/promises'
import {ctr} from '../helpers/cli.js'
import {makeKeyPair} from '../helpers/ssh.js'
import {bannerTimes, ClientLoop, lost, percentile} from '../faults/probe.js'
import {freePortRange} from './activator.js'
import type {Log} from './held.js'

const STEP_MS = 15_000
/** [how many containers, ms between connections to each]. */
const STEPS: ReadonlyArray<readonly [1 | 2, number]> = [
  [1, 40],
  [1, 20],
  [1, 10],
  [2, 40],
  [2, 20],
  [2, 12],
]

export interface RateStep {
  containers: number
  everyMs: number
  perSecond: number
  lost: number
  p50Ms: number
  p99Ms: number
  cpuBusy: number
}

function cpuTimes(): {idle: number; total: number} {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  return {idle: fields[3] + fields[4], total: fields.reduce((a, b) => a + b, 0)}
}

function busy(before: {idle: number; total: number}, after: {idle: number; total: number}): number {
  return 1 - (after.idle - before.idle) / (after.total - before.total)
}

export async function benchClientRate(root: string, log: Log): Promise<RateStep[]> {
  const keys = await makeKeyPair()
  const first = freePortRange(23000, 23999, 2)
  const ports = [first, first + 1]
  const names = ['rate-a', 'rate-b']
  const steps: RateStep[] = []
  try {
    for (const [i, name] of names.entries()) {
      const made = await ctr(root, ['create', 'debian', name, '--ssh-key', keys.pub, '--ssh-port', String(ports[i]), '--idle-timeout', '0'])
      if (made.exitCode !== 0) throw new Error(`ctr create ${name}: ${made.stderr.trim()}`)
      const started = await ctr(root, ['start', '--now', name])
      if (started.exitCode !== 0) throw new Error(`ctr start --now ${name}: ${started.stderr.trim()}`)
    }
    // Both greet once before the steps (the first boot is no part of a rate).
    for (const port of ports) {
      const warm = new ClientLoop([port], 500)
      await sleep(3000)
      const results = (await warm.stop())[0].results
      if (!results.some((r) => r.outcome === 'ok')) throw new Error(`port ${port} gave no banner in 3 s`)
    }
    // Until the boots' own work is done (CPUs under 20% busy over 2 s; at most 60 s).
    for (let i = 0; i < 30; i++) {
      const before = cpuTimes()
      await sleep(2000)
      if (busy(before, cpuTimes()) < 0.2) break
    }
    log('client-rate: connect -> sshd banner of running containers, a loop firing whether or not the last one answered (15 s a step)')
    for (const [containers, everyMs] of STEPS) {
      const before = cpuTimes()
      const loop = new ClientLoop(ports.slice(0, containers), everyMs)
      await sleep(STEP_MS)
      const tallies = await loop.stop()
      const after = cpuTimes()
      const results = tallies.flatMap((t) => t.results)
      const ms = bannerTimes(results)
      const step: RateStep = {
        containers,
        everyMs,
        perSecond: Math.round((containers * 1000) / everyMs),
        lost: lost(results).length,
        p50Ms: percentile(ms, 50),
        p99Ms: percentile(ms, 99),
        cpuBusy: busy(before, after),
      }
      steps.push(step)
      const base = steps[0]
      log(
        `  ${containers} container(s), every ${everyMs} ms: ${step.perSecond}/s, ${step.lost} lost, banner p50 ${step.p50Ms.toFixed(1)} ms (${(step.p50Ms / base.p50Ms).toFixed(2)}x the first step), p99 ${step.p99Ms.toFixed(1)} ms, CPUs ${(step.cpuBusy * 100).toFixed(0)}% busy`,
      )
      await sleep(3000)
    }
  } finally {
    for (const name of names) await ctr(root, ['rm', '--force', name])
    await rm(keys.dir, {recursive: true, force: true})
  }
  return steps
}
