/**
 * ctr expose / unexpose: which container owns which address and port. The record says it, the
 * socket unit inside the tree follows it (the container's systemd adopts the held socket at the
 * next boot), and a running activator holds the new set at once.
 */
import {callActivator} from '../activator/client.js'
import {portsFixedWhileUp} from '../activator/protocol.js'
import {CtrError, isCtrError} from '../errors.js'
import type {LayerHooks} from '../rootfs/layers.js'
import {mountRootfs, unmountRootfs} from '../rootfs/mount.js'
import {writeServiceUnits} from '../rootfs/service-units.js'
import type {ContainerStatus} from '../status/types.js'
import {describeExposure, getContainer, listContainers, writeContainer, type ContainerRecord, type Exposure} from '../store/containers.js'
import {withLock} from '../store/lock.js'
import {layout} from '../store/paths.js'
import {EACCES, EADDRINUSE, EADDRNOTAVAIL, canBind} from '../sys/socket.js'
import {filesFor, getService} from '../units/services.js'
import {readInTree, removeInTree} from '../rootfs/tree-fs.js'
import {requireRoot} from '../sys/privileges.js'
import {parsePortSpec} from './ports.js'
import {adminPassword, checkDocroot, checkLayerFits, planPackages, writeAdminFile} from './service-setup.js'

export interface ExposeReport {
  container: string
  exposure: Exposure
  /** Already exposed exactly so: nothing changed. */
  unchanged: boolean
  /** The activator holds the port now (the container is started). */
  held: boolean
  /** Packages the container lacked, now there through a shared package layer. */
  installed: string[]
  /** The image the container stands on now (a package layer when packages were added). */
  image: string
  /** The host directory the service serves, read-only (--docroot). */
  docroot?: string
  /** What may not work as meant (a docroot the server cannot read). */
  warnings?: string[]
  /** The admin user's password when ctr made one: shown this once, kept nowhere in clear. */
  adminPassword?: string
}

export interface UnexposeReport {
  container: string
  removed: Exposure[]
}

export interface ExposeOptions {
  spec: string
  service: string
  container?: string
  docroot?: string
  passwordFile?: string
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

/**
 * ctr expose. First, with no lock held (it takes a while): the packages the service needs, as a
 * shared layer built when missing. Then, under the state lock and with the container paused in
 * the activator (which refuses a running one, and binds the new port before anything is written):
 * the tree (stacked on the layer), the service's files and units, the record last. A failure on
 * the way puts the tree back as it was, and the record, written last, never says more than the
 * tree has.
 */
export async function exposePort(root: string, options: ExposeOptions, hooks: LayerHooks = {}): Promise<ExposeReport> {
  const {port, address} = parsePortSpec(options.spec)
  const recipe = getService(options.service)
  const service = recipe.name
  const exposure: Exposure = address === undefined ? {port, service} : {port, service, address}
  const checked = options.docroot === undefined ? undefined : await checkDocroot(recipe, options.docroot)
  const docroot = checked?.path
  const admin = await adminPassword(recipe, options.passwordFile)
  requireRoot('ctr expose')
  const first = await pickContainer(root, options.container, 'expose')
  // Exposed exactly so already, with nothing else asked: nothing to do.
  const plain = docroot === undefined && options.passwordFile === undefined
  const same = await checkPort(root, first, exposure, plain)
  if (same) return {container: first.name, exposure: same, unchanged: true, held: isHeld(await liveStatus(root, first.name)), installed: [], image: first.image}
  // Refused early (the activator checks again when it pauses it): a layer built for nothing takes a while.
  const live = await liveStatus(root, first.name)
  if (live && isUp(live)) throw portsFixedWhileUp(first.name, live.state)
  const plan = await planPackages(root, first, await mountRootfs(root, first), recipe, hooks)
  return withLock(layout(root).lockFile, async () => {
    const record = await getContainer(root, first.name)
    if (record.image !== first.image) throw new CtrError('LOCKED', `${record.name} changed while its packages were prepared`, {hints: ['run this again']})
    const same = await checkPort(root, record, exposure, plain)
    if (same) return {container: record.name, exposure: same, unchanged: true, held: isHeld(await liveStatus(root, record.name)), installed: [], image: record.image}
    const again = record.ports.some((e) => sameExposure(e, exposure))
    const settings = docroot === undefined ? record.services?.[service] : {...record.services?.[service], docroot}
    const updated: ContainerRecord = {
      ...record,
      image: plan.layer?.id ?? record.image,
      ports: again ? record.ports : [...record.ports, exposure],
      ...(settings ? {services: {...record.services, [service]: settings}} : {}),
    }
    if (plan.layer) await checkLayerFits(root, record, plan.layer, service)
    // The admin user is made with the service's first port, or again when a password file is given.
    const newAdmin = recipe.admin !== undefined && (!record.ports.some((e) => e.service === service) || options.passwordFile !== undefined)
    await whilePaused(root, record.name, updated.ports, () =>
      applyChange(root, record, updated, async (tree) => {
        if (newAdmin) await writeAdminFile(tree, recipe, admin.password)
      }),
    )
    const status = await liveStatus(root, record.name)
    return {
      container: record.name,
      exposure,
      unchanged: false,
      held: isHeld(status),
      installed: plan.layer ? plan.missing : [],
      image: updated.image,
      ...(settings?.docroot ? {docroot: settings.docroot} : {}),
      ...(checked?.warning ? {warnings: [checked.warning]} : {}),
      ...(newAdmin && admin.generated ? {adminPassword: admin.password} : {}),
    }
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
    const ports = record.ports.filter((e) => !matches(e))
    const services = Object.fromEntries(Object.entries(record.services ?? {}).filter(([name]) => ports.some((e) => e.service === name)))
    const updated: ContainerRecord = {...record, ports, ...(record.services ? {services} : {})}
    await whilePaused(root, record.name, ports, () => applyChange(root, record, updated))
    return {container: record.name, removed}
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

/**
 * PORT_OWNED when another container (or another service of this one) has the port, PORT_BUSY when
 * another program listens on it; the exposure as it is when RECORD has it exactly so and PLAIN (no
 * other setting asked), which is no change at all.
 */
async function checkPort(root: string, record: ContainerRecord, exposure: Exposure, plain: boolean): Promise<Exposure | undefined> {
  for (const other of await listContainers(root)) {
    const clash = other.ports.find((e) => collides(e, exposure))
    if (!clash) continue
    if (other.name !== record.name || !sameExposure(clash, exposure)) throw portOwned(other.name, clash)
    return plain ? clash : undefined
  }
  checkFree(exposure)
  return undefined
}

function sameExposure(a: Exposure, b: Exposure): boolean {
  return a.port === b.port && a.service === b.service && (a.address ?? '::') === (b.address ?? '::')
}

/**
 * Runs BODY while the activator has the container paused (Activator.pause: RUNNING when it runs,
 * PORT_BUSY when a new port cannot be bound; both before anything is changed), then lets the
 * activator hold what the record says by then. Without an activator, BODY just runs: nothing
 * holds or boots the container.
 */
async function whilePaused(root: string, name: string, ports: Exposure[], body: () => Promise<void>): Promise<void> {
  try {
    await callActivator(root, {op: 'pause', name, ports})
  } catch (error) {
    if (isCtrError(error) && error.code === 'ACTIVATOR_DOWN') return body()
    throw error
  }
  try {
    await body()
  } finally {
    await callActivator(root, {op: 'refresh', name}).catch(() => {})
  }
}

/**
 * The container's tree becomes what UPDATED says (its image stack, the services' files and
 * units, what EXTRA writes), and then the record. On a failure before the record is written, the
 * tree is put back as RECORD had it.
 */
async function applyChange(root: string, record: ContainerRecord, updated: ContainerRecord, extra?: (tree: string) => Promise<void>): Promise<void> {
  const restack = updated.image !== record.image
  // Files of services this change adds that the tree has not got yet: a failure removes them again.
  const added = [...new Set(updated.ports.map((e) => e.service))].filter((s) => !record.ports.some((e) => e.service === s))
  const paths = added.flatMap((s) => {
    const recipe = getService(s)
    return [...filesFor(recipe.files, updated.distro).map((f) => f.path), ...(recipe.admin ? [recipe.admin.path] : [])]
  })
  let fresh: string[] = []
  try {
    if (restack) await unmountRootfs(root, record.name)
    const tree = await mountRootfs(root, updated)
    fresh = await absentIn(tree, paths)
    await extra?.(tree)
    await writeServiceUnits(tree, updated)
    await writeContainer(root, updated)
  } catch (error) {
    await restore(root, record, restack, fresh).catch(() => {})
    throw error
  }
}

async function restore(root: string, record: ContainerRecord, restack: boolean, fresh: readonly string[]): Promise<void> {
  if (restack) await unmountRootfs(root, record.name)
  const tree = await mountRootfs(root, record)
  for (const path of fresh) await removeInTree(tree, path)
  await writeServiceUnits(tree, record)
}

async function absentIn(tree: string, paths: readonly string[]): Promise<string[]> {
  const absent: string[] = []
  for (const path of paths) if ((await readInTree(tree, path).catch(() => '')) === undefined) absent.push(path)
  return absent
}

async function liveStatus(root: string, name: string): Promise<ContainerStatus | undefined> {
  try {
    return (await callActivator(root, {op: 'status'})).containers.find((c) => c.name === name)
  } catch (error) {
    if (isCtrError(error) && error.code === 'ACTIVATOR_DOWN') return undefined
    throw error
  }
}

function isUp(status: ContainerStatus): boolean {
  return status.state === 'running' || status.state === 'booting' || status.state === 'stopping'
}


function isHeld(status: ContainerStatus | undefined): boolean {
  return status !== undefined && status.state !== 'stopped'
}
