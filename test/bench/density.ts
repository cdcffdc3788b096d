/**
 * Bench section density (issue 5): many containers from one base, each on its own port, all held
 * at once: the activator's memory, the disk each container takes (as created and after one boot),
 * and the cold boot of random containers among them.
 */
import {setTimeout as sleep} from 'node:timers/promises'
import {execa} from 'execa'
import {callActivator} from '../../src/activator/client.js'
import {createContainer} from '../../src/containers/create.js'
import {removeContainers} from '../../src/containers/remove.js'
import {containerPaths} from '../../src/store/paths.js'
import {freePortRange, timeToFirstByte} from './activator.js'
import {HELD_MS, IDLE_SETTLE_MS, backToSleep, errorText, kb, mb, logActivatorTail, withActivator, type Log} from './held.js'
import {median} from './stats.js'
import {processRss} from './tree-memory.js'

export interface DensityBench {
  containers: number
  createSeconds: {total: number; median: number}
  holdAllSeconds: number
  activatorRssBytes: {none: number; allHeld: number; afterWakes: number; perHeldContainer: number}
  /** As created (never booted). */
  diskPerContainer: {apparentMedian: number; apparentMax: number; allocatedMedian: number; allocatedTotal: number}
  /** Allocated bytes of the sampled containers after their one boot (the journal is written then). */
  diskAfterOneBootMedian: number
  coldMs: {samples: Array<{name: string; ms: number}>; median: number}
  /** Cold samples that failed (a reset or no banner): left out of the median. */
  failures: string[]
}

/** [apparent bytes, allocated bytes] of DIR, not crossing into the overlay mounted inside it. */
async function diskOf(dir: string): Promise<[number, number]> {
  const apparent = await execa('du', ['-sxb', dir])
  const allocated = await execa('du', ['-sx', '--block-size=1', dir])
  return [Number(apparent.stdout.split(/\s/)[0]), Number(allocated.stdout.split(/\s/)[0])]
}

function pickDistinct(count: number, from: number): number[] {
  const picked = new Set<number>()
  while (picked.size < Math.min(count, from)) picked.add(Math.floor(Math.random() * from))
  return [...picked]
}

export async function benchDensity(root: string, log: Log): Promise<DensityBench> {
  const count = Number(process.env.CTR_BENCH_DENSITY ?? 200)
  const sampleCount = Number(process.env.CTR_BENCH_DENSITY_SAMPLES ?? 5)
  const first = freePortRange(32000, 39999, count)
  const names = Array.from({length: count}, (_, i) => `dense-${i}`)
  log(`density: ${count} containers from one base on ports ${first}-${first + count - 1}, all held at once`)
  const createSeconds: number[] = []
  const started = performance.now()
  for (let i = 0; i < count; i++) {
    const report = await createContainer(root, {distro: 'debian', name: names[i], ports: [{port: first + i, service: 'ssh'}]})
    createSeconds.push(report.seconds)
    if ((i + 1) % 50 === 0) log(`density: ${i + 1} created`)
  }
  const createTotal = (performance.now() - started) / 1000
  try {
    return await withActivator(root, names, log, async (pid) => {
      await sleep(1500)
      const none = processRss(pid)
      const holdStarted = performance.now()
      for (const name of names) await callActivator(root, {op: 'start', name, now: false})
      const holdAllSeconds = (performance.now() - holdStarted) / 1000
      // Let V8 settle after the burst of requests before reading (as the activator section does).
      await sleep(1500)
      const allHeld = processRss(pid)
      log(`density: activator ${mb(none)} RSS holding nothing, ${mb(allHeld)} holding all ${count} (held in ${holdAllSeconds.toFixed(1)} s)`)

      const disks = await Promise.all(names.map((n) => diskOf(containerPaths(root, n).dir)))
      const apparent = disks.map((d) => d[0])
      const allocated = disks.map((d) => d[1])
      const diskPerContainer = {
        apparentMedian: median(apparent),
        apparentMax: Math.max(...apparent),
        allocatedMedian: median(allocated),
        allocatedTotal: allocated.reduce((a, b) => a + b, 0),
      }
      log(
        `density: disk per container median ${kb(diskPerContainer.apparentMedian)} (max ${kb(diskPerContainer.apparentMax)}), ` +
          `${kb(diskPerContainer.allocatedMedian)} allocated; ${mb(diskPerContainer.allocatedTotal)} allocated for all ${count}`,
      )

      // Each sample is the first boot of that container (as a random one among many would be).
      const samples: Array<{name: string; ms: number}> = []
      const failures: string[] = []
      for (const i of pickDistinct(sampleCount, count)) {
        await sleep(HELD_MS)
        try {
          const ms = await timeToFirstByte(first + i)
          samples.push({name: names[i], ms})
          log(`density: cold ${names[i]} (port ${first + i}): ${ms.toFixed(0)} ms to the banner`)
          await sleep(IDLE_SETTLE_MS)
        } catch (error) {
          // A finding, not the end of the run: the sample is left out of the median.
          failures.push(`${names[i]}: ${errorText(error)}`)
          log(`density: cold ${names[i]} (port ${first + i}) FAILED: ${errorText(error)}`)
          logActivatorTail(root, log, 8)
        }
        await backToSleep(root, names[i])
      }
      await sleep(1500)
      const afterWakes = processRss(pid)
      const diskAfterOneBootMedian = median(await Promise.all(samples.map(async (s) => (await diskOf(containerPaths(root, s.name).dir))[1])))
      const result: DensityBench = {
        containers: count,
        createSeconds: {total: createTotal, median: median(createSeconds)},
        holdAllSeconds,
        activatorRssBytes: {none, allHeld, afterWakes, perHeldContainer: (allHeld - none) / count},
        diskPerContainer,
        diskAfterOneBootMedian,
        coldMs: {samples, median: median(samples.map((s) => s.ms))},
        failures,
      }
      log(
        `density: cold boot of a random container among ${count} held: median ${result.coldMs.median.toFixed(0)} ms (${samples.length} samples, ${failures.length} failed); ` +
          `activator ${mb(afterWakes)} after them, ${(result.activatorRssBytes.perHeldContainer / 1e3).toFixed(1)} KB per held container`,
      )
      log(`density: disk of a container after its first boot: median ${mb(diskAfterOneBootMedian)} allocated (journal files included)`)
      return result
    })
  } finally {
    // The activator is down by now (it let every port go when stopped), so nothing is held.
    const reports = await removeContainers(root, names.slice(0, createSeconds.length))
    const failed = reports.filter((r) => !r.removed)
    log(`density: removed ${reports.length - failed.length} containers${failed.length ? `; ${failed.length} not: ${failed[0].error?.message}` : ''}`)
  }
}
