/**
 * Containers a previous activator left running (it was killed, or crashed): their nspawn keeps the
 * passed sockets, so the ports cannot be held again until they are gone. Each is powered off the
 * orderly way (SIGTERM to nspawn), and killed when that takes too long.
 */
import {nspawnPidsFor} from '../containers/processes.js'
import {containerPaths} from '../store/paths.js'
import {terminate} from '../sys/process.js'

/** Powers off the nspawn processes booting NAME's tree; returns their pids. */
export async function powerOffOrphans(root: string, name: string, timeoutMs: number): Promise<number[]> {
  const pids = await nspawnPidsFor(containerPaths(root, name).rootfs)
  await terminate(pids, timeoutMs)
  return pids
}
