/**
 * The status `ctr ls` shows: live from the activator, or from the store alone when the activator
 * does not run (every container is then stopped: nothing holds its ports or boots it).
 */
import {callActivator} from '../activator/client.js'
import {isCtrError} from '../errors.js'
import {damagedReason, listContainerEntries, listingRecord, type ContainerRecord} from '../store/containers.js'
import type {ContainerStatus, StatusReport} from './types.js'

/** The status of a container nothing holds (broken, for a placeholder of a damaged record: see listingRecord). */
export function storeStatus(record: ContainerRecord): ContainerStatus {
  const damaged = damagedReason(record)
  if (damaged !== undefined) {
    return {name: record.name, distro: '', release: '', profile: '', state: 'broken', ports: [], connections: 0, wakes: 0, idleTimeoutSec: 0, lastError: damaged}
  }
  return {
    name: record.name,
    distro: record.distro,
    release: record.release,
    profile: record.profile,
    state: 'stopped',
    ports: record.ports,
    connections: 0,
    wakes: 0,
    idleTimeoutSec: record.idleTimeoutSec,
    ...isolationOf(record),
  }
}

/** What a status says of RECORD's isolation settings, held or not: limits, network, user IDs. */
export function isolationOf(record: ContainerRecord): Pick<ContainerStatus, 'limits' | 'network' | 'address' | 'privateUsers' | 'uidBase'> {
  return {
    ...(record.limits ? {limits: record.limits} : {}),
    network: record.network ?? 'host',
    ...(record.address ? {address: record.address} : {}),
    ...(record.privateUsers ? {privateUsers: true} : {}),
    ...(record.uidBase !== undefined ? {uidBase: record.uidBase} : {}),
  }
}

export async function getStatus(root: string): Promise<StatusReport> {
  try {
    return await callActivator(root, {op: 'status'}, 15_000)
  } catch (error) {
    if (!(isCtrError(error) && error.code === 'ACTIVATOR_DOWN')) throw error
  }
  // A broken record is one broken row, not a failure of the whole listing.
  return {live: false, containers: (await listContainerEntries(root)).map((e) => storeStatus(listingRecord(e)))}
}

/** The status of one container (live when possible). */
export async function getContainerStatus(root: string, name: string): Promise<ContainerStatus | undefined> {
  return (await getStatus(root)).containers.find((c) => c.name === name)
}
