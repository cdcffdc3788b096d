/**
 * `npm run bench`: measures ctr on this machine and prints the figures with the baseline they are
 * compared against, measured in the same run. Writes bench-results/bench-DATE.json and .txt beside
 * it so that runs can be compared. Needs root; takes several minutes (one real debootstrap).
 */
import {mkdir, mkdtemp, symlink, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {imageId} from '../../src/rootfs/images.js'
import {layout} from '../../src/store/paths.js'
import {destroyRoot} from '../helpers/cleanup.js'
import {benchCreate} from './create.js'

type Section = (root: string, log: (line: string) => void) => Promise<unknown>

/**
 * CTR_BENCH_CACHE=DIR: a state root whose cached base is linked into the bench root, so that
 * sections run alone do not bootstrap it again (~2 min). Without it the create section (or the
 * first section that creates a container) bootstraps one, as a user's first create would.
 */
async function linkCachedBase(root: string): Promise<void> {
  const cache = process.env.CTR_BENCH_CACHE
  if (!cache) return
  const id = imageId('debian', 'bookworm')
  await mkdir(layout(root).images, {recursive: true})
  await symlink(join(layout(cache).images, id), join(layout(root).images, id))
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error('npm run bench: needs root (it bootstraps, mounts and boots containers)')
    process.exit(1)
  }
  const only = process.argv.slice(2)
  // The sections other than isolation (which sets each container's network) compare with figures
  // of earlier runs, all measured on the host's network: they stay there unless CTR_NETWORK says.
  process.env.CTR_NETWORK ??= 'host'
  const root = await mkdtemp('/var/tmp/ctr-bench-')
  await linkCachedBase(root)
  const lines: string[] = []
  const log = (line: string) => {
    lines.push(line)
    console.log(line)
  }
  // With a linked base, the create section's "cold" create is a warm one: the results say so.
  const results: Record<string, unknown> = {date: new Date().toISOString(), host: {cpus: (await import('node:os')).cpus().length}, cachedBase: process.env.CTR_BENCH_CACHE ?? null}
  const sections: Record<string, Section> = {
    create: benchCreate,
    activator: async (r, l) => (await import('./activator.js')).benchActivator({root: r, log: l}),
    idle: async (r, l) => (await import('./scale.js')).benchIdle(r, l),
    lean: async (r, l) => (await import('./scale.js')).benchLean(r, l),
    density: async (r, l) => (await import('./scale.js')).benchDensity(r, l),
    restart: async (r, l) => (await import('./restart.js')).benchRestart(r, l),
    services: async (r, l) => (await import('./services.js')).benchServices(r, l),
    isolation: async (r, l) => (await import('./isolation.js')).benchIsolation(r, l),
    'client-rate': async (r, l) => (await import('./client-rate.js')).benchClientRate(r, l),
    'systemd-host': async (r, l) => (await import('./systemd-host.js')).benchSystemdHost(r, l),
  }
  try {
    for (const [name, section] of Object.entries(sections)) {
      if (only.length > 0 && !only.includes(name)) continue
      results[name] = await section(root, log)
    }
  } finally {
    await destroyRoot(root)
  }
  const dir = fileURLToPath(new URL('../../../bench-results/', import.meta.url))
  await mkdir(dir, {recursive: true})
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  await writeFile(`${dir}bench-${stamp}.json`, `${JSON.stringify(results, null, 2)}\n`)
  await writeFile(`${dir}bench-${stamp}.txt`, `${lines.join('\n')}\n`)
  console.log(`results: ${dir}bench-${stamp}.json`)
}

await main()
