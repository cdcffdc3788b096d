/**
 * Containers a previous activator left running (it was killed, or crashed): their nspawn keeps the
 * passed sockets, so the ports cannot be held again until they are gone. Each is powered off the
 * orderly way (SIGTERM to nspawn), and killed when that takes too long.
 */
import {setTimeout as sleep} from 'node:timers/promises'
import {nspawnPidsFor} from '../containers/processes.js'
import {containerPaths} from '../store/paths.js'

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** Powers off the nspawn processes booting NAME's tree; returns their pids. */
export async function powerOffOrphans(root: string, name: string, timeoutMs: number): Promise<number[]> {
  const pids = await nspawnPidsFor(containerPaths(root, name).rootfs)
  for (const pid of pids) {
    try {
      process.kill(pid, 'SIGTERM')
    } catch {}
  }
  const deadline = Date.now() + timeoutMs
  while (pids.some(alive) && Date.now() < deadline) await sleep(50)
  for (const pid of pids.filter(alive)) {
    try {
      process.kill(pid, 'SIGKILL')
    } catch {}
  }
  while (pids.some(alive)) await sleep(20)
  return pids
}
