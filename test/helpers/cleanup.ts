/**
 * Removing what a test or benchmark made: the background activator of its root and the nspawn
 * processes booting its containers are stopped by pid (never by name), its mounts unmounted, its
 * state root removed.
 */
import {readFile, rm} from 'node:fs/promises'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {activatorLockFile} from '../../src/activator/protocol.js'
import {nspawnPidsFor} from '../../src/containers/processes.js'
import {unmountUnder} from '../../src/rootfs/mount.js'
import {listContainers} from '../../src/store/containers.js'
import {containerPaths, layout} from '../../src/store/paths.js'
import {instancesOn, killInits} from '../../src/activator/instances.js'
import {scanProcesses} from '../../src/activator/proc.js'
import {holdersIn} from '../../src/activator/socket-holder.js'
import {removeRootCgroups} from '../../src/activator/cgroups.js'
import {removeNatTable} from '../../src/network/veth.js'
import {signal, terminate} from '../../src/sys/process.js'

export async function destroyRoot(root: string): Promise<void> {
  const activator = await activatorOf(root)
  // The activator powers its containers off when it gets SIGTERM.
  if (activator !== undefined) await terminate([activator], 60_000)
  for (const c of await listContainers(root).catch(() => [])) {
    await terminate(await nspawnPidsFor(containerPaths(root, c.name).rootfs), 15_000)
  }
  // What a killed activator or nspawn may have left: the socket holder, inits without their nspawn.
  const processes = scanProcesses()
  for (const pid of holdersIn(processes, root)) signal(pid, 'SIGKILL')
  for (const c of await listContainers(root).catch(() => [])) {
    const {inits} = instancesOn(containerPaths(root, c.name).rootfs, processes)
    if (inits.length > 0) await killInits(inits)
  }
  await unmountUnder(root)
  // A cgroup goes once its last process has exited, which may take the kernel a moment.
  for (let tries = 0; tries < 20 && !removeRootCgroups(root); tries++) await sleep(100)
  // The nftables table of its veth containers, if one was made (nothing when there is none).
  await removeNatTable(root)
  await rm(root, {recursive: true, force: true})
}

/** pid of the background activator serving ROOT (`ctr start` launched it), if one runs. */
async function activatorOf(root: string): Promise<number | undefined> {
  const pid = Number((await readFile(activatorLockFile(root), 'utf8').catch(() => '')).trim())
  if (!pid) return undefined
  // The pid must still be that activator (pids are reused): its command line names this root.
  const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '')
  return cmdline.split('\0').includes(root) ? pid : undefined
}

/** SIGTERM (orderly poweroff for nspawn), then SIGKILL after a grace period. */
export async function stopPid(pid: number, graceMs = 15_000): Promise<void> {
  await terminate([pid], graceMs)
}

/** The socket holder's pid, from ROOT/activator/holder.json. */
export async function holderPid(root: string): Promise<number | undefined> {
  const text = await readFile(join(layout(root).activatorDir, 'holder.json'), 'utf8').catch(() => '{}')
  try {
    const pid = (JSON.parse(text) as {pid?: unknown}).pid
    return typeof pid === 'number' ? pid : undefined
  } catch {
    return undefined
  }
}
