/**
 * Cached base trees, one per distro + release (+ extra packages). The first create bootstraps one
 * into a staging dir under ROOT/tmp and renames it into place only when it is complete and
 * cleaned, so an interrupted or failed bootstrap never leaves a base that looks usable.
 */
import {createHash} from 'node:crypto'
import {existsSync} from 'node:fs'
import {mkdir, readdir, rename, rm, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {getDistro} from '../distros/index.js'
import type {Progress} from '../distros/types.js'
import {CtrError, errnoCode} from '../errors.js'
import {run, requireProgram, runTracked} from '../exec.js'
import {readJson, writeJsonAtomic} from '../store/atomic.js'
import {isBroken, listContainerEntries, listContainers} from '../store/containers.js'
import {withLock} from '../store/lock.js'
import {assertUnderRoot, imagePaths, layout} from '../store/paths.js'
import {prepareRoot} from '../store/root.js'
import {freeSpace, isFull, isNoSpace, isSpaceReport, noSpace, requireSpace, type Space} from '../store/space.js'
import {removeTree} from '../store/sweep.js'
import {validateImageId, validateMirror, validatePackages, validateRelease} from '../names.js'
import {removeInTree, writeInTree} from './tree-fs.js'

export interface ImageRecord {
  id: string
  distro: string
  release: string
  mirror: string
  extraPackages: string[]
  createdAt: string
  sizeBytes: number
  bootstrapSeconds: number
  /** The archive (file or URL) it was imported from, when it was not bootstrapped here. */
  importedFrom?: string
  /** A package layer (layers.ts): the base it is stacked on; its tree holds only what it adds. */
  parent?: string
  /** A package layer: the packages it adds. */
  packages?: string[]
}

export interface ImageRequest {
  distro: string
  release?: string
  mirror?: string
  extraPackages?: readonly string[]
}

export interface ImageHooks {
  onProgress?: (progress: Progress) => void
  signal?: AbortSignal
}

export function imageId(distro: string, release: string, extraPackages: readonly string[] = []): string {
  if (extraPackages.length === 0) return `${distro}-${release}`
  const hash = createHash('sha256').update([...extraPackages].sort().join(',')).digest('hex').slice(0, 8)
  return `${distro}-${release}-${hash}`
}

/** A stack deeper than this is not one ctr made (a layer's parent is always a base). */
const MAX_DEPTH = 4

/** The trees of IMAGE's stack, top first: [layer, base] for a layer, [base] for a base. */
export async function lowerTrees(root: string, id: string): Promise<string[]> {
  const trees: string[] = []
  let next: string | undefined = id
  while (next !== undefined) {
    if (trees.length >= MAX_DEPTH) throw new CtrError('INVALID_IMAGE', `image ${id} stacks more than ${MAX_DEPTH} layers`, {hints: ['remove and recreate it']})
    const image: ImageRecord | undefined = await readImage(root, next)
    if (!image) throw new CtrError('NOT_FOUND', `image ${next} is gone`, {hints: ['see what there is: ctr images ls']})
    trees.push(imagePaths(root, image.id).tree)
    next = image.parent
  }
  return trees
}

export async function readImage(root: string, id: string): Promise<ImageRecord | undefined> {
  return readJson<ImageRecord>(imagePaths(root, id).record)
}

/** The cached base for the request, bootstrapping it first if there is none. */
export async function ensureImage(root: string, request: ImageRequest, hooks: ImageHooks = {}): Promise<ImageRecord> {
  const distro = getDistro(request.distro)
  const release = validateRelease(distro.recipe, request.release ?? distro.recipe.defaultRelease)
  const extraPackages = validatePackages(request.extraPackages ?? [])
  if (request.mirror !== undefined) validateMirror(request.mirror)
  const id = imageId(distro.recipe.name, release, extraPackages)
  const cached = await readImage(root, id)
  if (cached) return cached
  validateRelease(distro.recipe, release, {known: true})
  try {
    requireProgram(distro.recipe.tool)
  } catch (error) {
    if (!(error instanceof CtrError)) throw error
    throw new CtrError(error.code, `${error.message}, so ${id} cannot be bootstrapped here`, {
      hints: [...error.hints, `or import a base made elsewhere: ctr images import FILE|URL --distro ${distro.recipe.name} --release ${release}`],
    })
  }
  const mirror = request.mirror ?? distro.recipe.mirror
  return stageImage(root, id, hooks, async (staging) => {
    const started = Date.now()
    const tracker = distro.progressTracker()
    const request = {release, mirror, target: staging, extraPackages, configDir: `${staging}.config`}
    await writeConfigFiles(request.configDir, distro.bootstrapFiles?.(request) ?? {})
    await runTracked(distro.bootstrapArgv(request), {
      signal: hooks.signal,
      feed: (line) => tracker.feed(line),
      onProgress: hooks.onProgress,
      fail: (text, lastLines) =>
        distro.classifyFailure(text) ??
        new CtrError('BOOTSTRAP_FAILED', `${distro.recipe.tool} failed to bootstrap ${distro.recipe.name} ${release}`, {
          hints: [`its last output:\n${lastLines}`],
        }),
    }).finally(() => rm(request.configDir, {recursive: true, force: true}))
    return {distro: distro.recipe.name, release, mirror, extraPackages, bootstrapSeconds: Math.round((Date.now() - started) / 100) / 10}
  })
}

async function writeConfigFiles(dir: string, files: Record<string, string>): Promise<void> {
  await rm(dir, {recursive: true, force: true})
  await mkdir(dir, {recursive: true, mode: 0o700})
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text, {mode: 0o600})
}

/**
 * Makes image ID: FILL puts a tree into a staging dir under ROOT/tmp (a bootstrap, an import); the
 * tree is cleaned, its record written beside it, and both renamed into place at once only when
 * complete, so an interrupted or failed one never leaves a base that looks usable, nor an
 * images/ID without a record. One at a time per image (its lock, held while staging: a killed
 * one's staging dir is swept by whoever takes that lock next, see store/sweep.ts); other ctr
 * commands go on meanwhile (not the state lock). FILL gets the space free when it began, and a
 * write that fails for want of space is reported as the state root's filesystem being full.
 */
export async function stageImage(
  root: string,
  id: string,
  hooks: ImageHooks,
  fill: (tree: string, space: Space) => Promise<Omit<ImageRecord, 'id' | 'createdAt' | 'sizeBytes'>>,
): Promise<ImageRecord> {
  await prepareRoot(root)
  const paths = imagePaths(root, id)
  return withLock(paths.lock, async () => {
    const again = await readImage(root, id)
    if (again) return again
    const staging = assertUnderRoot(root, join(layout(root).tmp, `image-${id}`))
    await removeTree(root, staging)
    const space = await requireSpace(layout(root).tmp)
    const tree = join(staging, 'tree')
    try {
      await mkdir(tree, {recursive: true})
      const fields = await fill(tree, space)
      hooks.signal?.throwIfAborted()
      await cleanBase(tree)
      const record: ImageRecord = {id, ...fields, createdAt: new Date().toISOString(), sizeBytes: await diskUsage(tree)}
      await writeJsonAtomic(join(staging, 'image.json'), record)
      // A dir without a record is what a killed `images rm` left: it goes, and one rename puts
      // the tree and its record in its place.
      await removeTree(root, paths.dir)
      await rename(staging, paths.dir)
      hooks.onProgress?.({fraction: 1, label: 'done'})
      return record
    } catch (error) {
      // A write that failed for want of space says what is free at that moment, before cleaning
      // up; so does any failure while the disk is full, since tools hide ENOSPC behind their own
      // words (debootstrap: "Tried to extract package, but file already exists").
      const now = await freeSpace(staging).catch(() => undefined)
      const full = !isSpaceReport(error) && (isNoSpace(error) || (now && isFull(now))) ? noSpace(now ?? space, undefined, error) : undefined
      await removeTree(root, staging)
      if (hooks.signal?.aborted) throw new CtrError('INTERRUPTED', `making image ${id} was interrupted; nothing was kept`)
      throw full ?? error
    }
  })
}

/**
 * What a base must not carry, since every container made from it would share it: SSH host keys
 * and the machine id (each container gets its own), and the downloaded .debs.
 */
async function cleanBase(tree: string): Promise<void> {
  for (const type of ['rsa', 'ecdsa', 'ed25519', 'dsa']) {
    await removeInTree(tree, `/etc/ssh/ssh_host_${type}_key`)
    await removeInTree(tree, `/etc/ssh/ssh_host_${type}_key.pub`)
  }
  await writeInTree(tree, '/etc/machine-id', '', 0o444)
  const archives = join(tree, 'var/cache/apt/archives')
  if (existsSync(archives)) await run(['find', archives, '-maxdepth', '1', '-name', '*.deb', '-delete'])
}

export async function diskUsage(path: string): Promise<number> {
  const {stdout} = await run(['du', '-sxb', path])
  return Number(stdout.split(/\s/)[0])
}

export interface ImageListing extends ImageRecord {
  /** Containers made from it. */
  usedBy: string[]
  /** Package layers stacked on it. */
  layers: string[]
}

export async function listImages(root: string): Promise<ImageListing[]> {
  let ids: string[]
  try {
    ids = (await readdir(layout(root).images)).filter((n) => !n.startsWith('.'))
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return []
    throw error
  }
  const containers = await listContainers(root)
  const records = await Promise.all(ids.map((id) => readImage(root, id)))
  return records
    .filter((r): r is ImageRecord => r !== undefined)
    .map((r) => ({...r, usedBy: containers.filter((c) => c.image === r.id).map((c) => c.name), layers: records.filter((l) => l?.parent === r.id).map((l) => l!.id)}))
    .sort((a, b) => a.id.localeCompare(b.id))
}

export async function removeImage(root: string, id: string): Promise<ImageRecord> {
  validateImageId(id)
  return withLock(layout(root).lockFile, async () => {
    const image = await readImage(root, id)
    if (!image) {
      const ids = (await listImages(root)).map((i) => i.id)
      throw new CtrError('NOT_FOUND', `no image ${id}`, {hints: [ids.length > 0 ? `cached images: ${ids.join(', ')}` : 'there are no cached images']})
    }
    // A container whose record is damaged may be using it: its image is unknown, so it counts.
    const users = (await listContainerEntries(root)).filter((e) => isBroken(e) || e.record.image === id).map((e) => e.name)
    if (users.length > 0) {
      throw new CtrError('IN_USE', `image ${id} is used by ${users.join(', ')}`, {hints: [`remove those containers first: ctr rm ${users.join(' ')}`]})
    }
    const layers = (await listImages(root)).filter((i) => i.parent === id).map((i) => i.id)
    if (layers.length > 0) {
      throw new CtrError('IN_USE', `image ${id} has package layers on it: ${layers.join(', ')}`, {hints: [`remove those first: ctr images rm ${layers.join(' ')}`]})
    }
    const paths = imagePaths(root, id)
    // Remove the record first: a half-removed tree without a record is not an image (and is swept).
    await rm(paths.record, {force: true})
    await removeTree(root, paths.dir)
    return image
  })
}
