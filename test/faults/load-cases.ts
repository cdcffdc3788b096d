/**
 * Load across sleep and wake: one container with an idle timeout of 1 s, hit by bursts of 100
 * connections, 50 at a time (a connection is a TCP connect and sshd's banner read), each burst
 * fired once it has powered off, or (every other cycle) while it powers off. At least 2,000
 * connections over at least 20 sleep/wake cycles: none refused, none reset.
 */
import {rm} from 'node:fs/promises'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {callActivator} from '../../src/activator/client.js'
import type {ContainerStatus} from '../../src/status/types.js'
import {ctr} from '../helpers/cli.js'
import {makeTestRoot} from '../helpers/roots.js'
import {makeKeyPair} from '../helpers/ssh.js'
import {describeLost, latencyLine, lost, probe, type ProbeResult} from './probe.js'
import {destroyRootAndHolder, freePorts, problems} from './system.js'
import {countConnections, note, recordFault} from './tally.js'

const GROUP = 'load across sleep/wake cycles'
const CYCLES = 21
const PER_CYCLE = 100
const AT_ONCE = 50

export function loadCases(): void {
  describe(GROUP, () => {
    let root: string
    let keys: Awaited<ReturnType<typeof makeKeyPair>> | undefined
    const [PORT] = freePorts(1, 24000, 24999)

    const status = async (): Promise<ContainerStatus> => (await callActivator(root, {op: 'status'})).containers.find((c) => c.name === 'load')!

    /** Waits (polling every 10 ms) until the container is in one of STATES. */
    const until = async (states: string[], timeoutMs = 30_000): Promise<string> => {
      const deadline = Date.now() + timeoutMs
      for (;;) {
        const s = await status()
        if (states.includes(s.state)) return s.state
        if (Date.now() > deadline) throw new Error(`load stayed ${s.state} for ${timeoutMs} ms (waiting for ${states.join(' or ')})`)
        await sleep(10)
      }
    }

    /** COUNT connections, AT_ONCE in flight at any time. */
    const burst = async (count: number): Promise<ProbeResult[]> => {
      const results: ProbeResult[] = []
      let fired = 0
      await Promise.all(
        Array.from({length: AT_ONCE}, async () => {
          while (fired < count) {
            fired++
            results.push(await probe(PORT))
          }
        }),
      )
      return results
    }

    beforeAll(async () => {
      keys = await makeKeyPair()
      root = await makeTestRoot()
      const made = await ctr(root, ['create', 'debian', 'load', '--ssh-key', keys.pub, '--ssh-port', String(PORT), '--idle-timeout', '1'])
      if (made.exitCode !== 0) throw new Error(`ctr create load: ${made.stderr}`)
      const started = await ctr(root, ['start', 'load'])
      if (started.exitCode !== 0) throw new Error(`ctr start load: ${started.stderr}`)
    }, 600_000)

    afterAll(async () => {
      if (root) await destroyRootAndHolder(root)
      if (keys) await rm(keys.dir, {recursive: true, force: true})
    }, 300_000)

    it(`${CYCLES * PER_CYCLE} connections, ${AT_ONCE} at a time, across ${CYCLES} sleep/wake cycles (idle timeout 1 s): 0 refused, 0 reset`, async () => {
      const wakesBefore = (await status()).wakes
      const all: ProbeResult[] = []
      const firedInto: Record<string, number> = {}
      const lostInto: Record<string, number> = {}
      const started = Date.now()
      for (let cycle = 0; cycle < CYCLES; cycle++) {
        // Odd cycles fire as soon as the container begins to power off: those connections wait
        // in the host's socket for the next boot.
        const state = await until(cycle % 2 === 1 ? ['stopping', 'listening'] : ['listening'])
        firedInto[state] = (firedInto[state] ?? 0) + 1
        const results = await burst(PER_CYCLE)
        lostInto[state] = (lostInto[state] ?? 0) + lost(results).length
        all.push(...results)
        // Let it run a moment and go idle again.
        await until(['running', 'stopping', 'listening'])
      }
      await until(['listening'])
      const wakes = (await status()).wakes - wakesBefore
      const lostHere = lost(all)
      countConnections(all)
      const refused = lostHere.filter((r) => r.outcome === 'refused').length
      const reset = lostHere.filter((r) => r.outcome === 'reset').length
      const line = `load: ${all.length} connections in ${((Date.now() - started) / 1000).toFixed(0)} s over ${wakes} wakes (bursts fired into ${Object.entries(firedInto).map(([s, n]) => `${n} ${s}`).join(', ')}): ${refused} refused, ${reset} reset, ${lostHere.length - refused - reset} otherwise lost; connect to banner ${latencyLine(all)}`
      console.log(line)
      note(line)
      if (lostHere.length > 0) {
        note(`load: lost by the state the burst was fired into: ${Object.entries(lostInto).map(([s, n]) => `${n} into ${s}`).join(', ')}; kinds: ${[...new Set(lostHere.map((r) => r.detail))].join('; ')}`)
        // What the container's systemd said about them (e.g. its socket's MaxConnections).
        const journal = await ctr(root, ['logs', 'load'])
        const said = journal.stdout.split('\n').filter((l) => /connection|ctr-ssh|Too many|refus|drop/i.test(l))
        const counted = new Map<string, number>()
        for (const l of said) {
          const key = l.replace(/^.*?\]: /, '').replace(/\d+/g, 'N')
          counted.set(key, (counted.get(key) ?? 0) + 1)
        }
        for (const [l, n] of [...counted].slice(0, 8)) note(`load: journal: ${n}x ${l}`)
      }
      const wrong = await problems(root)
      recordFault(GROUP, `${wakes} sleep/wake cycles under ${all.length} connections`, lostHere.length === 0 && wakes >= 20 && wrong.length === 0, [lostHere.length ? `${lostHere.length} lost` : '', wakes < 20 ? `only ${wakes} wakes` : '', ...wrong].filter(Boolean).join('; ') || undefined)
      expect(describeLost(PORT, all).slice(0, 20)).toEqual([])
      expect(all.length).toBeGreaterThanOrEqual(2000)
      expect(wakes).toBeGreaterThanOrEqual(20)
      expect(wrong).toEqual([])
    }, 400_000)
  })
}
