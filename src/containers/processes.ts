/**
 * Finds the systemd-nspawn process booting a tree, whoever started it (the activator, or a person
 * running nspawn by hand): a container that runs must not be removed under its feet.
 */
import {readFile, readdir} from 'node:fs/promises'

export async function nspawnPidsFor(tree: string): Promise<number[]> {
  const pids: number[] = []
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    let argv: string[]
    try {
      argv = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0')
    } catch {
      continue
    }
    if (!argv[0]?.endsWith('systemd-nspawn')) continue
    const dirArg = argv.findIndex((a) => a === '-D' || a === '--directory')
    const dir = dirArg >= 0 ? argv[dirArg + 1] : argv.find((a) => a.startsWith('--directory='))?.slice('--directory='.length)
    if (dir && dir.replace(/\/+$/, '') === tree.replace(/\/+$/, '')) pids.push(Number(entry))
  }
  return pids
}
