/** ctr rm: one report per name (as podman's batch verbs do); a running container is refused. */
import {CtrError, isCtrError} from '../errors.js'
import {getContainer} from '../store/containers.js'
import {withLock} from '../store/lock.js'
import {containerPaths, layout} from '../store/paths.js'
import {requireRoot} from '../sys/privileges.js'
import {discardContainerDir} from './create.js'
import {releaseContainer} from './lifecycle.js'
import {nspawnPidsFor} from './processes.js'

export interface RemoveReport {
  name: string
  removed: boolean
  error?: {code: string; message: string; hints: string[]}
}

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

async function removeContainer(root: string, name: string): Promise<void> {
  await withLock(layout(root).lockFile, async () => {
    await getContainer(root, name)
    const pids = await nspawnPidsFor(containerPaths(root, name).rootfs)
    if (pids.length > 0) {
      throw new CtrError('RUNNING', `${name} is running (systemd-nspawn pid ${pids.join(', ')})`, {hints: [`stop it first: ctr stop ${name}`]})
    }
    // A started container's ports are held by the activator even while it sleeps: let them go.
    await releaseContainer(root, name)
    await discardContainerDir(root, name)
  })
}
