/**
 * Benchmark of ctr create: cold (empty cache: bootstrap + customize), warm (base cached), and the
 * new disk each warm-created container takes. Targets (issue 2): warm under 2 s, under 20 MB.
 */
import {execa} from 'execa'
import {fileURLToPath} from 'node:url'
import {createContainer} from '../../src/containers/create.js'
import {diskUsage} from '../../src/rootfs/images.js'
import {containerPaths} from '../../src/store/paths.js'
import {median} from './stats.js'

const CTR = fileURLToPath(new URL('../../../bin/ctr', import.meta.url))

export interface CreateBench {
  coldCreateSeconds: number
  warmCreateSeconds: {engineMedian: number; cliMedian: number; runs: number}
  diskPerContainerBytes: {median: number; max: number}
  targets: {warmUnder2s: boolean; diskUnder20MB: boolean}
}

export async function benchCreate(root: string, log: (line: string) => void, runs = 5): Promise<CreateBench> {
  log('create: cold (empty cache, real debootstrap)...')
  const cold = await createContainer(root, {distro: 'debian', name: 'cold'})
  log(`create: cold ${cold.seconds.toFixed(1)} s`)
  const engine: number[] = []
  const cli: number[] = []
  const disk: number[] = []
  for (let i = 0; i < runs; i++) {
    const report = await createContainer(root, {distro: 'debian', name: `warm-${i}`})
    engine.push(report.seconds)
    const started = performance.now()
    await execa(CTR, ['create', 'debian', `cli-${i}`, '--root', root])
    cli.push((performance.now() - started) / 1000)
    disk.push(await diskUsage(containerPaths(root, `warm-${i}`).dir))
  }
  const result: CreateBench = {
    coldCreateSeconds: cold.seconds,
    warmCreateSeconds: {engineMedian: median(engine), cliMedian: median(cli), runs},
    diskPerContainerBytes: {median: median(disk), max: Math.max(...disk)},
    targets: {warmUnder2s: median(cli) < 2, diskUnder20MB: Math.max(...disk) < 20e6},
  }
  log(`create: warm median ${result.warmCreateSeconds.engineMedian.toFixed(2)} s in the engine, ${result.warmCreateSeconds.cliMedian.toFixed(2)} s as \`ctr create\` (target < 2 s)`)
  log(`create: new disk per container median ${(result.diskPerContainerBytes.median / 1e6).toFixed(2)} MB, max ${(result.diskPerContainerBytes.max / 1e6).toFixed(2)} MB (target < 20 MB)`)
  return result
}
