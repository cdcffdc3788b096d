/**
 * The measuring half of `npm run bench -- systemd-host` (systemd-host.ts), run with node inside the
 * systemd host test bed: ROUNDS interleaved rounds of a cold and WARM warm wakes of two containers
 * on that host, one held by ctr's activator (the unit ctr activator --unit wrote) on port CTR_PORT,
 * one run by the seed's units (ctr generate units) on port SEED_PORT. Prints its progress on stderr
 * and the figures as one JSON line on stdout.
 *
 * usage: node systemd-host-inside.js ROUNDS WARM CTR_NAME CTR_PORT SEED_NAME SEED_PORT
 */
import {setTimeout as sleep} from 'node:timers/promises'
import {callActivator} from '../../src/activator/client.js'
import {run} from '../../src/exec.js'
import {timeToFirstByte} from './activator.js'

/** Both ports are held this long before the cold connection, as a sleeping container's are. */
const HELD_MS = 300
/** After the wake, before the warm connections: the boot's last units have started. */
const SETTLE_MS = 1000

export interface Wakes {
  cold: number[]
  warm: number[]
}

interface Scheme {
  name: string
  port: number
  /** Off, with its port held. */
  sleep(): Promise<void>
}

async function wakes(scheme: Scheme, warmRuns: number, into: Wakes): Promise<string> {
  await scheme.sleep()
  await sleep(HELD_MS)
  const cold = await timeToFirstByte(scheme.port)
  await sleep(SETTLE_MS)
  const warm: number[] = []
  for (let i = 0; i < warmRuns; i++) warm.push(await timeToFirstByte(scheme.port))
  into.cold.push(cold)
  into.warm.push(...warm)
  return `${scheme.name} cold ${cold.toFixed(0)} ms, warm ${warm.map((w) => w.toFixed(1)).join('/')} ms`
}

async function main(): Promise<void> {
  const [rounds, warmRuns, ctrName, ctrPort, seedName, seedPort] = process.argv.slice(2)
  const root = process.env.CTR_ROOT ?? '/var/lib/ctr'
  const schemes: Scheme[] = [
    {
      name: 'ctr',
      port: Number(ctrPort),
      // Powered off with its ports held (held and off already is fine).
      sleep: () =>
        callActivator(root, {op: 'stop', name: ctrName, keepPorts: true}).then(
          () => undefined,
          (error: {code?: string}) => {
            if (error.code !== 'NOT_RUNNING') throw error
          },
        ),
    },
    {
      name: 'seed',
      port: Number(seedPort),
      // A stop of the service alone: its socket unit listens on.
      sleep: async () => void (await run(['systemctl', 'stop', `${seedName}.service`], {timeoutMs: 120_000})),
    },
  ]
  const figures: Record<string, Wakes> = {ctr: {cold: [], warm: []}, seed: {cold: [], warm: []}}
  // One untimed wake each: neither pays for a first boot (journal files, the page cache of its tree).
  for (const scheme of schemes) await wakes(scheme, 1, {cold: [], warm: []})
  for (let round = 0; round < Number(rounds); round++) {
    // The order turns each round, so that neither always follows the other.
    const order = round % 2 === 0 ? schemes : [...schemes].reverse()
    const line: string[] = []
    for (const scheme of order) line.push(await wakes(scheme, Number(warmRuns), figures[scheme.name]))
    process.stderr.write(`round ${round + 1}: ${line.join('; ')}\n`)
  }
  for (const scheme of schemes) await scheme.sleep()
  process.stdout.write(`${JSON.stringify(figures)}\n`)
}

await main()
