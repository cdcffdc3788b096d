/** ctr rm: one report per name (as podman's batch verbs do); a running container is refused. */
import {CtrError, isCtrError} from '../errors.js'
import {getContainer} from '../store/containers.js'
import {withLock} from '../store/lock.js'
import {containerPaths, layout} from '../store/paths.js'
import {requireRoot} from '../sys/privileges.js'
import {discardContainerDir} from './create.js'
import {nspawnPidsFor} from './processes.js'

export interface RemoveReport {
  name: string
  removed: boolean
  error?: {code: string; message: string; hints: string[]}
}

/** Called before a container is removed, e.g. to make the activator release its ports. */
export type BeforeRemove = (name: string) => Promise<void>

export async function removeContainers(root: string, names: readonly string[], beforeRemove?: BeforeRemove): Promise<RemoveReport[]> {
  requireRoot('ctr rm')
  const reports: RemoveReport[] = []
  for (const name of names) {
    try {
      await removeContainer(root, name, beforeRemove)
      reports.push({name, removed: true})
    } catch (error) {
      if (!isCtrError(error)) throw error
      reports.push({name, removed: false, error: error.toJSON()})
    }
  }
  return reports
}

async function removeContainer(root: string, name: string, beforeRemove?: BeforeRemove): Promise<void> {
  await withLock(layout(root).lockFile, async () => {
    await getContainer(root, name)
    const pids = await nspawnPidsFor(containerPaths(root, name).rootfs)
    if (pids.length > 0) {
      throw new CtrError('RUNNING', `${name} is running (systemd-nspawn pid ${pids.join(', ')})`, {hints: [`stop it first: ctr stop ${name}`]})
    }
    await beforeRemove?.(name)
    await discardContainerDir(root, name)
  })
}
