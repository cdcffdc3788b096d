/**
 * `npm run bench`: measures ctr on this machine and prints the figures with the baseline they are
 * compared against, measured in the same run. Writes bench-results/bench-DATE.json and .txt beside
 * it so that runs can be compared. Needs root; takes several minutes (one real debootstrap).
 */
import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {fileURLToPath} from 'node:url'
import {destroyRoot} from '../helpers/cleanup.js'
import {benchCreate} from './create.js'

type Section = (root: string, log: (line: string) => void) => Promise<unknown>

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    console.error('npm run bench: needs root (it bootstraps, mounts and boots containers)')
    process.exit(1)
  }
  const only = process.argv.slice(2)
  const root = await mkdtemp('/var/tmp/ctr-bench-')
  const lines: string[] = []
  const log = (line: string) => {
    lines.push(line)
    console.log(line)
  }
  const results: Record<string, unknown> = {date: new Date().toISOString(), host: {cpus: (await import('node:os')).cpus().length}}
  const sections: Record<string, Section> = {
    create: benchCreate,
    activator: async (r, l) => (await import('./activator.js')).benchActivator({root: r, log: l}),
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
