/**
 * Removing what a test or benchmark made: the nspawn processes booting its containers are stopped
 * by pid (never by name), its mounts unmounted, its state root removed.
 */
import {rm} from 'node:fs/promises'
import {setTimeout as sleep} from 'node:timers/promises'
import {nspawnPidsFor} from '../../src/containers/processes.js'
import {unmountUnder} from '../../src/rootfs/mount.js'
import {listContainers} from '../../src/store/containers.js'
import {containerPaths} from '../../src/store/paths.js'

export async function destroyRoot(root: string): Promise<void> {
  for (const c of await listContainers(root).catch(() => [])) {
    for (const pid of await nspawnPidsFor(containerPaths(root, c.name).rootfs)) await stopPid(pid)
  }
  await unmountUnder(root)
  await rm(root, {recursive: true, force: true})
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch {
    return false
  }
}

/** SIGTERM (orderly poweroff for nspawn), then SIGKILL after a grace period. */
export async function stopPid(pid: number, graceMs = 15_000): Promise<void> {
  if (!alive(pid)) return
  process.kill(pid, 'SIGTERM')
  const deadline = Date.now() + graceMs
  while (alive(pid) && Date.now() < deadline) await sleep(100)
  if (alive(pid)) process.kill(pid, 'SIGKILL')
  while (alive(pid)) await sleep(50)
}
