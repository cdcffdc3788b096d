/**
 * ctr update: change a container's settings after create (as `docker update` does). The idle
 * timeout takes effect at once in a running activator; a profile change at the next boot.
 */
import {callActivator} from '../activator/client.js'
import {CtrError, isCtrError} from '../errors.js'
import {mountRootfs} from '../rootfs/mount.js'
import {applyProfile, getProfile, removeProfile} from '../rootfs/profiles.js'
import {writeServiceUnits} from '../rootfs/service-units.js'
import {getContainer, writeContainer, type ContainerRecord} from '../store/containers.js'
import {withLock} from '../store/lock.js'
import {layout} from '../store/paths.js'
import {requireRoot} from '../sys/privileges.js'
import {freeUidBase, freeVethAddress, limitsOf, requireNetworkPrograms, validateNetwork} from './create.js'

export interface UpdateOptions {
  idleTimeoutSec?: number
  profile?: string
  /** 0: no memory limit. */
  memoryBytes?: number
  /** 0: no process limit. */
  pids?: number
  /** 0: no CPU limit. */
  cpus?: number
  network?: string
  /** true: a user namespace of its own from the next boot; false: the host's user IDs again. */
  privateUsers?: boolean
}

export interface UpdateReport {
  container: ContainerRecord
  changed: string[]
  /** The activator was told (it runs); otherwise the change is read at its next start. */
  activatorUpdated: boolean
}

export async function updateContainer(root: string, name: string, options: UpdateOptions): Promise<UpdateReport> {
  requireRoot('ctr update')
  if (options.idleTimeoutSec === undefined && options.profile === undefined && options.memoryBytes === undefined && options.pids === undefined && options.cpus === undefined && options.network === undefined && options.privateUsers === undefined) {
    throw new CtrError('INVALID_ARGUMENT', 'nothing to change', {hints: ['give --idle-timeout SECONDS, --profile lean|full, --memory SIZE, --cpus N, --pids N, --network host|private or --[no-]private-users']})
  }
  if (options.profile !== undefined) getProfile(options.profile)
  return withLock(layout(root).lockFile, async () => {
    const record = await getContainer(root, name)
    const updated: ContainerRecord = {...record}
    const changed: string[] = []
    if (options.idleTimeoutSec !== undefined && options.idleTimeoutSec !== record.idleTimeoutSec) {
      updated.idleTimeoutSec = options.idleTimeoutSec
      changed.push('idle-timeout')
    }
    if (options.profile !== undefined && options.profile !== record.profile) {
      updated.profile = options.profile
      const tree = await mountRootfs(root, record)
      await removeProfile(tree, record.profile)
      await applyProfile(tree, updated.profile)
      await writeServiceUnits(tree, updated)
      changed.push('profile')
    }
    const network = options.network === undefined ? undefined : validateNetwork(options.network)
    if (network !== undefined && network !== (record.network ?? 'host')) {
      delete updated.network
      delete updated.address
      if (network !== 'host') updated.network = network
      requireNetworkPrograms(network)
      if (network === 'veth') {
        updated.address = await freeVethAddress(root)
      }
      changed.push('network')
    }
    if (options.privateUsers !== undefined && options.privateUsers !== (record.privateUsers ?? false)) {
      delete updated.privateUsers
      delete updated.uidBase
      // From the next boot: its tree is remounted and an overlay's upper dir shifted then (rootfs/idmap.ts).
      if (options.privateUsers) Object.assign(updated, {privateUsers: true, uidBase: await freeUidBase(root)})
      changed.push('private-users')
    }
    const limits = limitsOf(record.limits, options)
    if (JSON.stringify(limits.limits) !== JSON.stringify(record.limits)) {
      delete updated.limits
      Object.assign(updated, limits)
      changed.push('limits')
    }
    if (changed.length > 0) await writeContainer(root, updated)
    return {container: updated, changed, activatorUpdated: changed.length > 0 && (await tellActivator(root, name))}
  })
}

async function tellActivator(root: string, name: string): Promise<boolean> {
  try {
    await callActivator(root, {op: 'refresh', name})
    return true
  } catch (error) {
    if (isCtrError(error) && error.code === 'ACTIVATOR_DOWN') return false
    throw error
  }
}
