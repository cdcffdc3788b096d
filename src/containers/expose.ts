/**
 * ctr expose / unexpose: which container owns which address and port. The record says it, the
 * socket unit inside the tree follows it (the container's systemd adopts the held socket at the
 * next boot), and a running activator holds the new set at once.
 */
import {callActivator} from '../activator/client.js'
import {CtrError, isCtrError} from '../errors.js'
import {mountRootfs} from '../rootfs/mount.js'
import {writeServiceUnits} from '../rootfs/service-units.js'
import type {ContainerStatus} from '../status/types.js'
import {describeExposure, getContainer, listContainers, writeContainer, type ContainerRecord, type Exposure} from '../store/containers.js'
import {withLock} from '../store/lock.js'
import {layout} from '../store/paths.js'
import {EACCES, EADDRINUSE, EADDRNOTAVAIL, canBind} from '../sys/socket.js'
import {getService} from '../units/services.js'
import {parsePortSpec} from './ports.js'

export interface ExposeReport {
  container: string
  exposure: Exposure
  /** Already exposed exactly so: nothing changed. */
  unchanged: boolean
  /** The container runs now: the change takes effect at its next boot. */
  nextBoot: boolean
  /** The activator holds the port now (the container is started). */
  held: boolean
}

export interface UnexposeReport {
  container: string
  removed: Exposure[]
  nextBoot: boolean
}

/** Two exposures collide when they share a port and one of the addresses covers the other. */
export function collides(a: Exposure, b: Exposure): boolean {
  if (a.port !== b.port) return false
  const wild = (address?: string) => address === undefined || address === '::' || address === '0.0.0.0'
  return wild(a.address) || wild(b.address) || a.address === b.address
}

/** The container a command means: the one named, or the only one there is. */
export async function pickContainer(root: string, name: string | undefined, verb: string): Promise<ContainerRecord> {
  if (name) return getContainer(root, name)
  const all = await listContainers(root)
  if (all.length === 1) return all[0]
  if (all.length === 0) throw new CtrError('NOT_FOUND', 'there is no container yet', {hints: ['create one: ctr create debian NAME']})
  throw new CtrError('AMBIGUOUS', `which container? ${verb} needs -c NAME when there are several`, {
    hints: [`containers: ${all.map((c) => c.name).join(', ')}`],
  })
}

export async function exposePort(root: string, options: {spec: string; service: string; container?: string}): Promise<ExposeReport> {
  const {port, address} = parsePortSpec(options.spec)
  const service = getService(options.service).name
  const exposure: Exposure = address === undefined ? {port, service} : {port, service, address}
  return withLock(layout(root).lockFile, async () => {
    const record = await pickContainer(root, options.container, 'expose')
    for (const other of await listContainers(root)) {
      const clash = other.ports.find((e) => collides(e, exposure))
      if (!clash) continue
      if (other.name === record.name && clash.service === service && (clash.address ?? '::') === (address ?? '::')) {
        const status = await liveStatus(root, record.name)
        return {container: record.name, exposure: clash, unchanged: true, nextBoot: false, held: isHeld(status)}
      }
      throw portOwned(other.name, clash)
    }
    checkFree(exposure)
    const updated: ContainerRecord = {...record, ports: [...record.ports, exposure]}
    await applyPorts(root, updated)
    const status = await refreshActivator(root, record.name)
    return {container: record.name, exposure, unchanged: false, nextBoot: isUp(status), held: isHeld(status)}
  })
}

export async function unexposePort(root: string, options: {spec: string; container?: string}): Promise<UnexposeReport> {
  const {port, address} = parsePortSpec(options.spec)
  return withLock(layout(root).lockFile, async () => {
    const matches = (e: Exposure) => e.port === port && (address === undefined || (e.address ?? '::') === address)
    let record: ContainerRecord
    if (options.container) {
      record = await getContainer(root, options.container)
    } else {
      const owners = (await listContainers(root)).filter((c) => c.ports.some(matches))
      if (owners.length > 1) {
        throw new CtrError('AMBIGUOUS', `port ${port} is exposed by several containers`, {hints: [`say which: -c ${owners.map((c) => c.name).join(' or -c ')}`]})
      }
      if (owners.length === 0) throw new CtrError('NOT_FOUND', `no container exposes port ${port}`)
      record = owners[0]
    }
    const removed = record.ports.filter(matches)
    if (removed.length === 0) {
      throw new CtrError('NOT_FOUND', `${record.name} does not expose port ${port}`, {
        hints: [record.ports.length > 0 ? `it exposes ${record.ports.map(describeExposure).join(', ')}` : 'it exposes no port'],
      })
    }
    await applyPorts(root, {...record, ports: record.ports.filter((e) => !matches(e))})
    const status = await refreshActivator(root, record.name)
    return {container: record.name, removed, nextBoot: isUp(status)}
  })
}

/** For a new container's ports: PORT_OWNED if a container has it, PORT_BUSY if a program listens. */
export async function assertPortsAvailable(root: string, exposures: readonly Exposure[]): Promise<void> {
  const all = await listContainers(root)
  for (const exposure of exposures) {
    for (const other of all) {
      const clash = other.ports.find((e) => collides(e, exposure))
      if (clash) throw portOwned(other.name, clash)
    }
    checkFree(exposure)
  }
}

function portOwned(owner: string, clash: Exposure): CtrError {
  return new CtrError('PORT_OWNED', `port ${clash.port} is exposed by ${owner} already (${describeExposure(clash)})`, {
    hints: [`free it first: ctr unexpose ${clash.port} -c ${owner}`],
  })
}

/** PORT_BUSY when another program listens there (tried the way the activator binds it). */
export function checkFree(exposure: Exposure): void {
  const result = canBind(exposure.port, exposure.address ?? '::')
  if (result.ok) return
  if (result.errno === EADDRINUSE) {
    throw new CtrError('PORT_BUSY', `port ${exposure.port} is in use by another program`, {
      hints: [`see which: ss -ltnp 'sport = :${exposure.port}'`],
    })
  }
  if (result.errno === EADDRNOTAVAIL) {
    throw new CtrError('INVALID_ARGUMENT', `${exposure.address} is not an address of this host`, {hints: ['give one of its addresses (ip -brief address), or just the port for all of them']})
  }
  if (result.errno === EACCES) throw new CtrError('NOT_ROOT', `port ${exposure.port} needs root`, {hints: ['run ctr as root']})
  throw new CtrError('PORT_BUSY', `port ${exposure.port} cannot be bound (errno ${result.errno})`, {hints: [`see what holds it: ss -ltnp 'sport = :${exposure.port}'`]})
}

/** Units in the tree first, record second: a failure in between leaves the old record in charge. */
async function applyPorts(root: string, record: ContainerRecord): Promise<void> {
  const tree = await mountRootfs(root, record)
  await writeServiceUnits(tree, record)
  await writeContainer(root, record)
}

/** Tells a running activator to hold the new set; undefined when it does not run. */
async function refreshActivator(root: string, name: string): Promise<ContainerStatus | undefined> {
  try {
    return await callActivator(root, {op: 'refresh', name})
  } catch (error) {
    if (isCtrError(error) && error.code === 'ACTIVATOR_DOWN') return undefined
    throw error
  }
}

async function liveStatus(root: string, name: string): Promise<ContainerStatus | undefined> {
  try {
    return (await callActivator(root, {op: 'status'})).containers.find((c) => c.name === name)
  } catch (error) {
    if (isCtrError(error) && error.code === 'ACTIVATOR_DOWN') return undefined
    throw error
  }
}

function isUp(status: ContainerStatus | undefined): boolean {
  return status !== undefined && (status.state === 'running' || status.state === 'booting' || status.state === 'stopping')
}

function isHeld(status: ContainerStatus | undefined): boolean {
  return status !== undefined && status.state !== 'stopped'
}
