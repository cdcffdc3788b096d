/**
 * Container records under ROOT/containers/NAME/container.json. A record that cannot be read or is
 * not the shape below (a crash of an old version, a hand edit, a bad disk) makes that one container
 * broken, with the reason: listings show it as such beside the others, commands naming it say
 * so in one line, and `ctr rm NAME` removes it. It never breaks the listing of the others.
 */
import {readFile, readdir} from 'node:fs/promises'
import {CtrError, errnoCode} from '../errors.js'
import {NAME_PATTERN, validateName} from '../names.js'
import {isUidBase} from '../rootfs/uid-ranges.js'
import {writeJsonAtomic} from './atomic.js'
import {containerPaths, layout} from './paths.js'

/** One exposed socket: the container's SERVICE listens on ADDRESS:PORT (ADDRESS unset = `::`, dual-stack). */
export interface Exposure {
  port: number
  service: string
  address?: string
}

export type Storage = 'overlay' | 'copy'

export interface ContainerRecord {
  name: string
  distro: string
  release: string
  /** Id of the cached base image the container was made from. */
  image: string
  storage: Storage
  profile: string
  createdAt: string
  ports: Exposure[]
  /** Seconds with no established connection before the container is powered off; 0 = never. */
  idleTimeoutSec: number
  /** Per service, what `ctr expose` was told beyond the port: a host directory it serves (--docroot). */
  services?: Record<string, ServiceSettings>
  /**
   * `private`: a network namespace of its own with loopback only (nspawn --private-network);
   * `veth`: that with an address of its own (src/network/veth.ts); unset: the host's.
   */
  network?: NetworkMode
  /** With network veth: its address (src/network/veth.ts), the second of its /30; kept across boots and host reboots. */
  address?: string
  /** What the kernel enforces on the container's cgroup (--memory, --pids, --cpus); unset: no limit. */
  limits?: ContainerLimits
  /**
   * true: a user namespace of its own: root inside is an unprivileged UID range on the host, and the
   * base stays shared. A copy is seen through an idmapped mount (nspawn's
   * --private-users-ownership=map); an overlay is stacked on idmapped lowers with its upper dir
   * stored shifted (rootfs/idmap.ts).
   */
  privateUsers?: boolean
  /** With privateUsers: the first host UID of its range (rootfs/uid-ranges.ts), the same at every boot. Unset (older records): nspawn picks one at each boot. */
  uidBase?: number
  /**
   * Host paths bound into the container at every boot (create --bind / --bind-ro): HOST at INSIDE,
   * read-only unless readOnly is false. For a test bed (node and a ctr checkout in a nested
   * systemd host), or a state directory the container writes on the host's file system.
   */
  binds?: ContainerBind[]
  /**
   * Capabilities nspawn keeps beyond its default set (create --capability), e.g. CAP_NET_ADMIN for a
   * nested systemd host whose own ctr makes veth containers. Only for test beds: root inside
   * a veth container with CAP_NET_ADMIN can change its own address.
   */
  capabilities?: string[]
  /**
   * System calls allowed beyond nspawn's filter (create --system-call-filter), e.g. pidfd_getfd,
   * which a ctr activator inside (a nested systemd host) needs to take its sockets back from its
   * socket holder after a crash or restart. Only for test beds.
   */
  systemCalls?: string[]
}

export interface ContainerBind {
  host: string
  inside: string
  readOnly: boolean
}

export type NetworkMode = 'host' | 'private' | 'veth'

export interface ContainerLimits {
  memoryBytes?: number
  pids?: number
  /** CPUs' worth of time (0.5: half of one). */
  cpus?: number
}
/** The most CPUs a --cpus limit may name. */
export const MAX_CPUS = 1024
export const NETWORK_MODES: readonly NetworkMode[] = ['host', 'private', 'veth']

export interface ServiceSettings {
  /** Absolute host directory, bound read-only at the recipe's docroot at every boot. */
  docroot?: string
}

/** The read-only binds nspawn gets for RECORD's services: [host dir, path inside, service]. */
export function serviceBinds(record: Pick<ContainerRecord, 'services'>, docrootOf: (service: string) => string | undefined): Array<[string, string]> {
  return Object.entries(record.services ?? {}).flatMap(([service, settings]) => {
    const inside = docrootOf(service)
    return settings.docroot && inside ? [[settings.docroot, inside] as [string, string]] : []
  })
}

/** RECORD's own binds (create --bind-ro/--bind) as nspawn wants them: read-only, and read-write. */
export function recordBinds(record: Pick<ContainerRecord, 'binds'>): {readOnly: Array<[string, string]>; readWrite: Array<[string, string]>} {
  const binds = record.binds ?? []
  return {
    readOnly: binds.filter((b) => b.readOnly).map((b) => [b.host, b.inside] as [string, string]),
    readWrite: binds.filter((b) => !b.readOnly).map((b) => [b.host, b.inside] as [string, string]),
  }
}

/** A container whose record is damaged: its directory name, and what is wrong with the record. */
export interface BrokenContainer {
  name: string
  damaged: string
}

export type ContainerEntry = {name: string; record: ContainerRecord} | BrokenContainer

export function isBroken(entry: ContainerEntry): entry is BrokenContainer {
  return 'damaged' in entry
}

/** The one-line error of a command that names a broken container. */
export function damagedError(entry: BrokenContainer): CtrError {
  return new CtrError('DAMAGED', `${entry.name}'s record is damaged (${entry.damaged})`, {
    hints: [`ctr rm ${entry.name} removes it; or mend containers/${entry.name}/container.json by hand`],
  })
}

/** What the record of NAME says, broken or whole; undefined when there is none (no such container). */
export async function readContainerEntry(root: string, name: string): Promise<ContainerEntry | undefined> {
  // A name no container can have is refused as such, before it reaches a path (../../victim).
  validateName(name)
  let text: string
  try {
    text = await readFile(containerPaths(root, name).record, 'utf8')
  } catch (error) {
    const code = errnoCode(error)
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined
    return {name, damaged: `cannot read it: ${code ?? String(error)}`}
  }
  const checked = checkRecord(name, text)
  return typeof checked === 'string' ? {name, damaged: checked} : {name, record: checked}
}

/** NAME's record; undefined when there is none; DAMAGED when it is broken. */
export async function readContainer(root: string, name: string): Promise<ContainerRecord | undefined> {
  const entry = await readContainerEntry(root, name)
  if (entry && isBroken(entry)) throw damagedError(entry)
  return entry?.record
}

export async function getContainer(root: string, name: string): Promise<ContainerRecord> {
  const record = await readContainer(root, name)
  if (!record) {
    const names = (await listContainerEntries(root)).map((c) => c.name)
    throw new CtrError('NOT_FOUND', `no container named ${name}`, {
      hints: [names.length > 0 ? `known containers: ${names.join(', ')}` : 'create one: ctr create debian NAME'],
    })
  }
  return record
}

/**
 * The record in TEXT, if it is one for NAME; else what is wrong with it, in a few words. Checked
 * field by field: a record with a field of the wrong type would fail later, far from here, as a
 * TypeError in whatever read the field.
 */
export function checkRecord(name: string, text: string): ContainerRecord | string {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    return `invalid JSON: ${error instanceof Error ? error.message : String(error)}`
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return `not a JSON object but ${value === null ? 'null' : Array.isArray(value) ? 'a list' : typeof value}`
  const r = value as Record<string, unknown>
  for (const field of ['name', 'distro', 'release', 'image', 'profile', 'createdAt'] as const) {
    if (typeof r[field] !== 'string' || r[field] === '') return `${field} is ${describe(r[field])}, not a text`
  }
  if (r.name !== name) return `it names ${JSON.stringify(r.name)}, not ${JSON.stringify(name)}`
  if (r.storage !== 'overlay' && r.storage !== 'copy') return `storage is ${describe(r.storage)}, not "overlay" or "copy"`
  if (!Number.isInteger(r.idleTimeoutSec) || (r.idleTimeoutSec as number) < 0) return `idleTimeoutSec is ${describe(r.idleTimeoutSec)}, not a whole number of seconds`
  if (!Array.isArray(r.ports)) return `ports is ${describe(r.ports)}, not a list`
  for (const [i, e] of r.ports.entries()) {
    const ok =
      typeof e === 'object' &&
      e !== null &&
      Number.isInteger(e.port) &&
      e.port >= 1 &&
      e.port <= 65535 &&
      typeof e.service === 'string' &&
      (e.address === undefined || typeof e.address === 'string')
    if (!ok) return `ports[${i}] is not {port, service, address?}`
  }
  if (r.network !== undefined && !NETWORK_MODES.includes(r.network as NetworkMode)) return `network is ${describe(r.network)}, not ${NETWORK_MODES.map((m) => `"${m}"`).join(' or ')}`
  if (r.network === 'veth' && !(typeof r.address === 'string' && /^\d{1,3}(\.\d{1,3}){3}$/.test(r.address))) return `address is ${describe(r.address)}, not the IPv4 address a veth container needs`
  if (r.network !== 'veth' && r.address !== undefined) return 'address is set, but network is not veth'
  if (r.privateUsers !== undefined && typeof r.privateUsers !== 'boolean') return `privateUsers is ${describe(r.privateUsers)}, not true or false`
  if (r.uidBase !== undefined && !(r.privateUsers === true && isUidBase(r.uidBase))) return `uidBase is ${describe(r.uidBase)}, not the first UID of one of ctr's ranges of a --private-users container`
  if (r.limits !== undefined) {
    const l = r.limits as {memoryBytes?: unknown; pids?: unknown; cpus?: unknown} | null
    const whole = (v: unknown) => v === undefined || (Number.isSafeInteger(v) && (v as number) > 0)
    if (typeof l !== 'object' || l === null || Array.isArray(l) || !whole(l.memoryBytes) || !whole(l.pids)) return 'limits is not {memoryBytes?, pids?} of whole numbers'
    if (l.cpus !== undefined && !(typeof l.cpus === 'number' && Number.isFinite(l.cpus) && l.cpus > 0 && l.cpus <= MAX_CPUS)) return `limits.cpus is ${describe(l.cpus)}, not a number of CPUs above 0`
  }
  if (r.systemCalls !== undefined && !(Array.isArray(r.systemCalls) && r.systemCalls.every((c) => typeof c === 'string' && /^@?[a-z0-9_]+$/.test(c)))) return `systemCalls is ${describe(r.systemCalls)}, not a list of system call names`
  if (r.capabilities !== undefined && !(Array.isArray(r.capabilities) && r.capabilities.every((c) => typeof c === 'string' && /^CAP_[A-Z_]+$/.test(c)))) return `capabilities is ${describe(r.capabilities)}, not a list of CAP_ names`
  if (r.binds !== undefined) {
    if (!Array.isArray(r.binds)) return `binds is ${describe(r.binds)}, not a list`
    for (const [i, b] of r.binds.entries()) {
      const ok = typeof b === 'object' && b !== null && typeof b.host === 'string' && b.host.startsWith('/') && typeof b.inside === 'string' && b.inside.startsWith('/') && typeof b.readOnly === 'boolean'
      if (!ok) return `binds[${i}] is not {host: ABSOLUTE_PATH, inside: ABSOLUTE_PATH, readOnly}`
    }
  }
  if (r.services !== undefined) {
    if (typeof r.services !== 'object' || r.services === null || Array.isArray(r.services)) return `services is ${describe(r.services)}, not an object`
    for (const [service, settings] of Object.entries(r.services as Record<string, unknown>)) {
      const docroot = (settings as {docroot?: unknown} | null)?.docroot
      if (typeof settings !== 'object' || settings === null || (docroot !== undefined && (typeof docroot !== 'string' || !docroot.startsWith('/')))) {
        return `services.${service} is not {docroot?: ABSOLUTE_PATH}`
      }
    }
  }
  return value as ContainerRecord
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing'
  const text = JSON.stringify(value)
  return text.length > 20 ? `${text.slice(0, 19)}…` : text
}

export async function writeContainer(root: string, record: ContainerRecord): Promise<void> {
  await writeJsonAtomic(containerPaths(root, record.name).record, record)
}

/**
 * Every container, whole or broken, sorted by name; half-made directories (no record) and hidden
 * ones (.removing-*) are not containers. Read one after another: with a thousand containers, a
 * thousand reads at once grow the heap of a long-lived process for good.
 */
export async function listContainerEntries(root: string): Promise<ContainerEntry[]> {
  let names: string[]
  try {
    names = await readdir(layout(root).containers)
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return []
    throw error
  }
  const entries: ContainerEntry[] = []
  // A directory whose name no container can have was not made by ctr create: not a container.
  for (const name of names.filter((e) => NAME_PATTERN.test(e)).sort((a, b) => a.localeCompare(b))) {
    const entry = await readContainerEntry(root, name)
    if (entry) entries.push(entry)
  }
  return entries
}

/** Every container with a whole record (broken ones are left out: see listContainerEntries). */
export async function listContainers(root: string): Promise<ContainerRecord[]> {
  return (await listContainerEntries(root)).flatMap((e) => (isBroken(e) ? [] : [e.record]))
}

/**
 * For a listing that takes records only (the activator's status): a broken container as a record
 * with nothing in it but its name and `damaged`, which storeStatus (status/collect.ts) shows as
 * broken. Never to be acted on: nothing but a listing may see it.
 */
export function listingRecord(entry: ContainerEntry): ContainerRecord {
  if (!isBroken(entry)) return entry.record
  const placeholder = {name: entry.name, distro: '', release: '', image: '', storage: 'overlay', profile: '', createdAt: '', ports: [], idleTimeoutSec: 0}
  return Object.assign(placeholder, {damaged: entry.damaged}) as ContainerRecord
}

/** The reason a record from listingRecord is broken; undefined for a whole one. */
export function damagedReason(record: ContainerRecord): string | undefined {
  const damaged = (record as {damaged?: unknown}).damaged
  return typeof damaged === 'string' ? damaged : undefined
}

export function describeExposure(e: Exposure): string {
  const address = e.address ? (e.address.includes(':') ? `[${e.address}]` : e.address) : '*'
  return `${address}:${e.port}/${e.service}`
}
