/**
 * Finds the systemd-nspawn process booting a tree, whoever started it (the activator, or a person
 * running nspawn by hand): a container that runs must not be removed under its feet.
 */
import {nspawnTree, scanProcesses} from '../activator/proc.js'

export async function nspawnPidsFor(tree: string): Promise<number[]> {
  const want = tree.replace(/\/+$/, '')
  return scanProcesses()
    .filter((p) => nspawnTree(p.argv) === want)
    .map((p) => p.pid)
}
