/**
 * The status `ctr ls` shows: live from the activator, or from the store alone when the activator
 * does not run (every container is then stopped: nothing holds its ports or boots it).
 */
import {callActivator} from '../activator/client.js'
import {isCtrError} from '../errors.js'
import {listContainers, type ContainerRecord} from '../store/containers.js'
import type {ContainerStatus, StatusReport} from './types.js'

/** The status of a container nothing holds. */
export function storeStatus(record: ContainerRecord): ContainerStatus {
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
  }
}

export async function getStatus(root: string): Promise<StatusReport> {
  try {
    return await callActivator(root, {op: 'status'}, 15_000)
  } catch (error) {
    if (!(isCtrError(error) && error.code === 'ACTIVATOR_DOWN')) throw error
  }
  return {live: false, containers: (await listContainers(root)).map(storeStatus)}
}

/** The status of one container (live when possible). */
export async function getContainerStatus(root: string, name: string): Promise<ContainerStatus | undefined> {
  return (await getStatus(root)).containers.find((c) => c.name === name)
}
