/**
 * ctr rm: one report per name (as podman's batch verbs do); a running container is refused. A
 * container whose record is damaged is removed all the same (that is the way out of it).
 *
 * Removal is atomic for everyone else: under the state lock the whole directory is first renamed
 * to a hidden name (containers/.removing-NAME-PID), so from that instant no command and no boot
 * finds the container; only then does the activator let it go, and the hidden directory is
 * unmounted and deleted at leisure. The other order raced with `ctr start`: the activator could
 * take the container back between its release and the deletion, and its next boot made the
 * directory again (mkdir -p) and booted a bare base. A `ctr start` queued behind the release now
 * finds no record; a boot already under way finds none either (activator/tree.ts) and fails.
 */
import {readdir, rename, rm} from 'node:fs/promises'
import {join} from 'node:path'
import {removeContainerCgroups} from '../activator/cgroups.js'
import {sessionsDir} from '../activator/sessions.js'
import {CtrError, errnoCode, isCtrError} from '../errors.js'
import {unmountRootfs, unmountUnder} from '../rootfs/mount.js'
import {getContainer, isBroken, readContainerEntry} from '../store/containers.js'
import {teardownNetwork} from '../network/netns.js'
import {releaseVeth} from '../network/veth.js'
import {withLock} from '../store/lock.js'
import {assertUnderRoot, containerPaths, layout} from '../store/paths.js'
import {requireRoot} from '../sys/privileges.js'
import {releaseContainer} from './lifecycle.js'
import {nspawnPidsFor} from './processes.js'

export interface RemoveReport {
  name: string
  removed: boolean
  error?: {code: string; message: string; hints: string[]}
}

/** What a removal in progress is renamed to (then NAME-PID-TIME): hidden, as listings skip dot names, and whose it is. */
export const REMOVING_PREFIX = '.removing-'

export async function removeContainers(root: string, names: readonly string[]): Promise<RemoveReport[]> {
  requireRoot('ctr rm')
  const reports: RemoveReport[] = []
  for (const name of names) {
    try {
      await removeContainer(root, name)
      reports.push({name, removed: true})
    } catch (error) {
      if (!isCtrError(error)) throw error
      reports.push({name, removed: false, error: error.toJSON()})
    }
  }
  return reports
}

export async function removeContainer(root: string, name: string): Promise<void> {
  const hidden = await withLock(layout(root).lockFile, async () => {
    await removeStaleRemovals(root)
    // Whole or broken, it goes; no record at all is NOT_FOUND (with the names there are).
    const entry = await readContainerEntry(root, name)
    if (!entry) await getContainer(root, name)
    const paths = containerPaths(root, name)
    const pids = await nspawnPidsFor(paths.rootfs)
    if (pids.length > 0) {
      throw new CtrError('RUNNING', `${name} is running (systemd-nspawn pid ${pids.join(', ')})`, {hints: [`stop it first: ctr stop ${name}`]})
    }
    const hiddenDir = await hide(root, name)
    try {
      // A started container's ports are held by the activator even while it sleeps: let them go.
      await releaseContainer(root, name)
    } catch (error) {
      // Nothing is removed yet: put it back as it was.
      await rename(hiddenDir, paths.dir).catch(() => {})
      throw error
    }
    // Shell sessions left by killed CLIs (activator/sessions.ts): a new container of this name starts with none.
    await rm(sessionsDir(root, name), {recursive: true, force: true})
    // Its cgroups, if a killed activator left them (empty ones only: nothing of it runs now).
    removeContainerCgroups(root, name)
    // Its veth address is free again: out of the NAT set (a next container may get it); its pair
    // and network namespace gone (deleteHidden unmounts what is left lazily).
    const address = entry && !isBroken(entry) ? entry.record.address : undefined
    if (address) await releaseVeth(root, address)
    await teardownNetwork(root, name, join(hiddenDir, 'netns')).catch(() => {})
    return hiddenDir
  })
  // Out of everyone's sight and let go of: deleting it needs the lock no more.
  await deleteHidden(root, hidden)
}

/** Renames containers/NAME to its hidden name. An overlay mounted inside moves with it (checked). */
async function hide(root: string, name: string): Promise<string> {
  const {dir} = containerPaths(root, name)
  const hidden = assertUnderRoot(root, join(layout(root).containers, `${REMOVING_PREFIX}${name}-${process.pid}-${Date.now().toString(36)}`))
  try {
    await rename(dir, hidden)
  } catch (error) {
    // EBUSY where a file system will not move a directory with a mount inside: unmount, then move.
    if (errnoCode(error) !== 'EBUSY') throw error
    await unmountRootfs(root, name)
    await rename(dir, hidden)
  }
  return hidden
}

/** Unmounts what is mounted inside (lazily: nothing reaches into a base or /proc), then deletes. */
async function deleteHidden(root: string, hidden: string): Promise<void> {
  assertUnderRoot(root, hidden)
  await unmountUnder(hidden)
  await rm(hidden, {recursive: true, force: true})
}

/** Hidden directories of removals whose ctr died before it finished (SIGKILL): finished here. */
async function removeStaleRemovals(root: string): Promise<void> {
  const names = await readdir(layout(root).containers).catch(() => [] as string[])
  for (const entry of names) {
    if (!entry.startsWith(REMOVING_PREFIX)) continue
    const pid = Number(entry.split('-').at(-2))
    // Its ctr still runs (this one included: another name's removal may be deleting it now).
    if (Number.isInteger(pid) && pid > 0 && alive(pid)) continue
    await deleteHidden(root, join(layout(root).containers, entry))
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return errnoCode(error) === 'EPERM'
  }
}
