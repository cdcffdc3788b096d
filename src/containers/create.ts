/**
 * ctr create: a container is a cached base (bootstrapped on first use) plus its own overlay upper
 * dir (or a full copy), customized, and a record. The record is written last: until it exists
 * the directory is not a container, and any failure or Ctrl-C removes what was made.
 */
import {existsSync} from 'node:fs'
import {mkdir, rm} from 'node:fs/promises'
import {isAbsolute, normalize} from 'node:path'
import {getDistro} from '../distros/index.js'
import type {Progress} from '../distros/types.js'
import {CtrError} from '../errors.js'
import {requireProgram, run, tail} from '../exec.js'
import {pickName, validateMirror, validateName, validatePackages, validateRelease} from '../names.js'
import {customizeTree} from '../rootfs/customize.js'
import {ensureImage, imageId, readImage, type ImageRecord} from '../rootfs/images.js'
import {ensurePackageLayer} from '../rootfs/layers.js'
import {mountRootfs, unmountRootfs} from '../rootfs/mount.js'
import {DEFAULT_PROFILE, getProfile} from '../rootfs/profiles.js'
import {getService} from '../units/services.js'
import {NETWORK_MODES, type ContainerBind, type ContainerRecord, type Exposure, type NetworkMode, listContainerEntries, listContainers, readContainer, writeContainer} from '../store/containers.js'
import {allocateAddress, hostAddresses} from '../network/veth.js'
import {allocateUidBase} from '../rootfs/uid-ranges.js'
import {withLock} from '../store/lock.js'
import {containerPaths, imagePaths, layout} from '../store/paths.js'
import {freeSpace, isNoSpace, isSpaceReport, noSpace, requireSpace} from '../store/space.js'
import {requireRoot} from '../sys/privileges.js'
import {assertPortsAvailable} from './expose.js'
import {authorizedKeys} from './ssh-keys.js'

export interface CreateOptions {
  distro: string
  name?: string
  release?: string
  mirror?: string
  /** Public key files; default: the invoking user's ~/.ssh/*.pub. */
  sshKeyFiles?: string[]
  packages?: string[]
  copy?: boolean
  profile?: string
  idleTimeoutSec?: number
  /** Ports exposed from the start (as `ctr expose` would add them). */
  ports?: Exposure[]
  /** Memory limit in bytes (0 or unset: none), enforced by the kernel from the first boot. */
  memoryBytes?: number
  /** Process limit (0 or unset: none). */
  pids?: number
  /** CPUs' worth of time (0.5: half of one). */
  cpus?: number
  network?: NetworkMode
  /** A user namespace of its own (ContainerRecord.privateUsers). */
  privateUsers?: boolean
  /** Host paths bound in at every boot: HOST[:INSIDE] (INSIDE defaults to HOST). */
  bindsReadOnly?: string[]
  bindsReadWrite?: string[]
  /** Capabilities nspawn keeps beyond its defaults (ContainerRecord.capabilities). */
  capabilities?: string[]
  /** System calls allowed beyond nspawn's filter (ContainerRecord.systemCalls). */
  systemCalls?: string[]
}

export interface CreateHooks {
  onPhase?: (phase: 'bootstrap' | 'packages' | 'customize') => void
  onProgress?: (progress: Progress) => void
  signal?: AbortSignal
}

export interface CreateReport {
  container: ContainerRecord
  rootfs: string
  /** true when this create had to bootstrap the base first. */
  bootstrapped: boolean
  authorizedKeys: number
  seconds: number
  /**
   * true when --mirror was given but the base was cached already (bootstrapped from
   * baseMirror): the mirror had no effect on this container.
   */
  mirrorIgnored: boolean
  /** The mirror the base was bootstrapped from. */
  baseMirror: string
  /** The archive the base was imported from, when it was imported. */
  baseImportedFrom?: string
}

export async function createContainer(root: string, options: CreateOptions, hooks: CreateHooks = {}): Promise<CreateReport> {
  const started = Date.now()
  const distro = getDistro(options.distro)
  if (options.name !== undefined) validateName(options.name)
  const release = validateRelease(distro.recipe, options.release ?? distro.recipe.defaultRelease)
  const extraPackages = validatePackages(options.packages ?? [])
  if (options.mirror !== undefined) validateMirror(options.mirror)
  const profile = getProfile(options.profile ?? DEFAULT_PROFILE).name
  const network = options.network === undefined ? defaultNetwork() : validateNetwork(options.network)
  requireNetworkPrograms(network)
  for (const e of options.ports ?? []) getService(e.service)
  const binds = [...(options.bindsReadOnly ?? []).map((spec) => parseBind(spec, true)), ...(options.bindsReadWrite ?? []).map((spec) => parseBind(spec, false))]
  const capabilities = [...new Set((options.capabilities ?? []).map((c) => c.toUpperCase()).map((c) => (c.startsWith('CAP_') ? c : `CAP_${c}`)))]
  for (const c of capabilities) if (!/^CAP_[A-Z_]+$/.test(c)) throw new CtrError('INVALID_ARGUMENT', `--capability wants a capability name (CAP_NET_ADMIN), not ${JSON.stringify(c)}`)
  const systemCalls = [...new Set(options.systemCalls ?? [])]
  for (const c of systemCalls) if (!/^@?[a-z0-9_]+$/.test(c)) throw new CtrError('INVALID_ARGUMENT', `--system-call-filter wants a system call name (pidfd_getfd) or @group, not ${JSON.stringify(c)}`)
  requireRoot('ctr create')
  requireProgram('systemd-nspawn')
  requireProgram('ssh-keygen')
  if (options.name && (await readContainer(root, options.name))) throw exists(options.name)
  await assertPortsAvailable(root, options.ports ?? [])
  const keys = await authorizedKeys(options.sshKeyFiles)

  // --packages: on an overlay, a package layer on the plain base (shared with every container and
  // service asking for the same set, see rootfs/layers.ts); a --copy gets a base bootstrapped with them.
  const layered = extraPackages.length > 0 && !options.copy && distro.install !== undefined
  const request = {distro: distro.recipe.name, release, mirror: options.mirror, extraPackages: layered ? [] : extraPackages}
  const id = imageId(distro.recipe.name, release, request.extraPackages)
  const hadImage = (await readImage(root, id)) !== undefined
  if (!hadImage) hooks.onPhase?.('bootstrap')
  let image = await ensureImage(root, request, hooks)
  hooks.signal?.throwIfAborted()
  if (layered) {
    hooks.onPhase?.('packages')
    image = await ensurePackageLayer(root, image, extraPackages, hooks)
    hooks.signal?.throwIfAborted()
  }

  hooks.onPhase?.('customize')
  return withLock(layout(root).lockFile, async () => {
    // Broken containers too: a picked name would discard the directory of one whose record is damaged.
    const taken = new Set((await listContainerEntries(root)).map((c) => c.name))
    const name = options.name ?? pickName(distro.recipe.name, taken)
    if (taken.has(name)) throw exists(name)
    await assertPortsAvailable(root, options.ports ?? [])
    const paths = containerPaths(root, name)
    // A directory without a record is debris of a create that was killed: clear it.
    await discardContainerDir(root, name)
    const record: ContainerRecord = {
      name,
      distro: distro.recipe.name,
      release,
      image: image.id,
      storage: options.copy ? 'copy' : 'overlay',
      profile,
      createdAt: new Date().toISOString(),
      ports: options.ports ?? [],
      idleTimeoutSec: options.idleTimeoutSec ?? 0,
      ...limitsOf(undefined, options),
      ...(network !== 'host' ? {network} : {}),
      ...(network === 'veth' ? {address: await freeVethAddress(root)} : {}),
      ...(options.privateUsers ? {privateUsers: true, uidBase: await freeUidBase(root)} : {}),
      ...(binds.length > 0 ? {binds} : {}),
      ...(capabilities.length > 0 ? {capabilities} : {}),
      ...(systemCalls.length > 0 ? {systemCalls} : {}),
    }
    try {
      await mkdir(paths.dir, {recursive: true, mode: 0o700})
      const rootfs = await materialize(root, record, image)
      await mkdir(layout(root).tmp, {recursive: true})
      await customizeTree(rootfs, {record, authorizedKeys: keys, tmpDir: layout(root).tmp})
      hooks.signal?.throwIfAborted()
      await writeContainer(root, record)
      const mirrorIgnored = hadImage && options.mirror !== undefined && (image.importedFrom !== undefined || !sameMirror(options.mirror, image.mirror))
      const base = {baseMirror: image.mirror, baseImportedFrom: image.importedFrom}
      return {container: record, rootfs, bootstrapped: !hadImage, authorizedKeys: keys.length, seconds: (Date.now() - started) / 1000, mirrorIgnored, ...base}
    } catch (error) {
      const full = isNoSpace(error) && !isSpaceReport(error) ? noSpace(await freeSpace(paths.dir), undefined, error) : undefined
      await discardContainerDir(root, name)
      if (full) throw full
      if (hooks.signal?.aborted) throw new CtrError('INTERRUPTED', `create of ${name} interrupted; nothing was kept`)
      throw error
    }
  })
}

async function materialize(root: string, record: ContainerRecord, image: ImageRecord): Promise<string> {
  // A copy that cannot fit is refused before it starts (an overlay needs only the margin).
  await requireSpace(layout(root).containers, record.storage === 'copy' ? image.sizeBytes : 0)
  if (record.storage === 'overlay') return mountRootfs(root, record)
  const {rootfs} = containerPaths(root, record.name)
  // --reflink=auto: a CoW clone where the file system can, a plain copy elsewhere. --pdeathsig:
  // a cp that outlived a killed ctr would go on filling a directory nobody will keep.
  try {
    await run(['setpriv', '--pdeathsig', 'KILL', '--', 'cp', '-a', '--reflink=auto', imagePaths(root, image.id).tree, rootfs], {
      classify: ({exitCode, stderr}) =>
        isNoSpace({message: stderr}) ? undefined : new CtrError('COMMAND_FAILED', `cp failed (exit ${exitCode})${stderr ? `: ${tail(stderr, 1)}` : ''}`),
    })
  } catch (error) {
    // cp prints a line per file it could not write: one line instead.
    if (isNoSpace(error)) throw noSpace(await freeSpace(rootfs), undefined, error)
    throw error
  }
  return rootfs
}

/** The lowest UID range no container of ROOT has (under the root's lock): rootfs/uid-ranges.ts. */
export async function freeUidBase(root: string): Promise<number> {
  return allocateUidBase((await listContainers(root)).flatMap((r) => (r.uidBase !== undefined ? [r.uidBase] : [])))
}

export function validateNetwork(mode: string): NetworkMode {
  if (!NETWORK_MODES.includes(mode as NetworkMode)) {
    throw new CtrError('INVALID_ARGUMENT', `--network must be ${NETWORK_MODES.join(' or ')}, not ${JSON.stringify(mode)}`, {
      hints: ['host: the host\'s network; private: loopback only, the exposed ports still served; veth: an address of its own, out through NAT'],
    })
  }
  return mode as NetworkMode
}

/** A new container's network when create is not told: veth (isolated, still out to mirrors), or CTR_NETWORK's. */
export function defaultNetwork(env: NodeJS.ProcessEnv = process.env): NetworkMode {
  const mode = env.CTR_NETWORK
  if (mode === undefined || mode === '') return 'veth'
  if (!NETWORK_MODES.includes(mode as NetworkMode)) {
    throw new CtrError('INVALID_ARGUMENT', `CTR_NETWORK must be ${NETWORK_MODES.join(' or ')}, not ${JSON.stringify(mode)}`, {hints: ['unset it for the default, veth']})
  }
  return mode as NetworkMode
}

/** What a private or veth container's network needs on the host (src/network/): checked when one is made. */
export function requireNetworkPrograms(network: NetworkMode): void {
  if (network === 'host') return
  for (const program of network === 'veth' ? ['ip', 'nft', 'sysctl', 'nsenter', 'unshare'] : ['ip', 'nsenter', 'unshare']) requireProgram(program)
}

/**
 * The lowest veth address no container of ROOT has (under the root's lock), in a /30 none of the
 * host's links has an address in (another state root's containers, a network of the host's own).
 */
export async function freeVethAddress(root: string): Promise<string> {
  const taken = (await listContainers(root)).flatMap((r) => (r.address ? [r.address] : []))
  return allocateAddress([...taken, ...(await hostAddresses())])
}

/** RECORD's limits with those OPTIONS set (0 removes one); absent when none is left. */
export function limitsOf(limits: ContainerRecord['limits'], options: {memoryBytes?: number; pids?: number; cpus?: number}): Pick<ContainerRecord, 'limits'> {
  const next = {...limits}
  if (options.memoryBytes !== undefined) next.memoryBytes = options.memoryBytes || undefined
  if (options.pids !== undefined) next.pids = options.pids || undefined
  if (options.cpus !== undefined) next.cpus = options.cpus || undefined
  const kept = Object.fromEntries(Object.entries(next).filter(([, v]) => v !== undefined))
  return Object.keys(kept).length > 0 ? {limits: kept} : {}
}

/** Unmounts and removes a container's directory (the record goes with it). */
export async function discardContainerDir(root: string, name: string): Promise<void> {
  await unmountRootfs(root, name)
  await rm(containerPaths(root, name).dir, {recursive: true, force: true})
}

/** Mirrors that differ only by a trailing slash are the same. */
function sameMirror(a: string, b: string | undefined): boolean {
  return b !== undefined && a.replace(/\/+$/, '') === b.replace(/\/+$/, '')
}

function exists(name: string): CtrError {
  return new CtrError('EXISTS', `a container named ${name} already exists`, {hints: [`pick another name, or remove it first: ctr rm ${name}`]})
}

/** --bind-ro/--bind HOST[:INSIDE]: both absolute, HOST existing now (nspawn refuses a missing source at boot). */
export function parseBind(spec: string, readOnly: boolean): ContainerBind {
  const colon = spec.indexOf(':')
  const host = colon < 0 ? spec : spec.slice(0, colon)
  const inside = colon < 0 ? spec : spec.slice(colon + 1)
  const flag = readOnly ? '--bind-ro' : '--bind'
  if (!isAbsolute(host) || !isAbsolute(inside) || [host, inside].some((p) => p.split('/').includes('..'))) {
    throw new CtrError('INVALID_ARGUMENT', `${flag} wants HOST[:INSIDE], absolute paths without "..", not ${JSON.stringify(spec)}`, {hints: [`e.g. ${flag} /usr/bin/node:/opt/host/node`]})
  }
  if (!existsSync(host)) throw new CtrError('NOT_FOUND', `${flag}: ${host} does not exist on the host`)
  return {host: normalize(host), inside: normalize(inside), readOnly}
}
