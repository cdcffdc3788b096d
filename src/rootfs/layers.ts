/**
 * Package layers: the packages a service needs, installed once per base and package set into an
 * overlay upper dir of their own (images/BASE+HASH/tree, an image with a parent). A container
 * that needs them stacks that layer between its own upper dir and the base, so every container
 * with the same services shares the packages on disk, and a second one costs only its own files.
 *
 * A layer is built from the base alone (never from another layer): lighttpd and MariaDB together
 * are the layer for {lighttpd, mariadb-server}, whatever order they were exposed in. It is made by
 * the distro's own package manager, run inside the base (systemd-nspawn, not booted) over a
 * staging upper dir, and renamed into place only when complete (stageImage), so a failed or
 * interrupted install leaves no layer and no container changed.
 */
import {createHash} from 'node:crypto'
import {lstat, mkdir, readdir, rm} from 'node:fs/promises'
import {join} from 'node:path'
import {getDistro} from '../distros/index.js'
import type {Progress} from '../distros/types.js'
import {CtrError} from '../errors.js'
import {requireProgram, run, runTracked} from '../exec.js'
import {hostHasSystemd, nspawnRunArgv} from '../nspawn/argv.js'
import {imagePaths} from '../store/paths.js'
import {readImage, stageImage, type ImageRecord} from './images.js'
import {isMountPoint, overlayMountArgv} from './mount.js'
import {fileText, filesFor, serviceCatalogue, type RecipeFile} from '../units/services.js'
import {readInTree, removeInTree, writeInTree} from './tree-fs.js'

/** The layer's id: its base, and a hash of its packages and of the layer files that go in before them (a changed recipe makes a new layer). */
export function layerId(baseId: string, packages: readonly string[], files: readonly RecipeFile[] = []): string {
  const hash = createHash('sha256').update([...new Set(packages)].sort().join(','))
  for (const file of files) hash.update(`\0${file.path}\0${fileText(file)}`)
  return `${baseId}+${hash.digest('hex').slice(0, 8)}`
}

/** The base an image stands on: itself when it is one. */
export async function baseOf(root: string, image: ImageRecord): Promise<ImageRecord> {
  if (!image.parent) return image
  const parent = await readImage(root, image.parent)
  if (!parent) throw new CtrError('NOT_FOUND', `image ${image.parent}, the base of ${image.id}, is gone`)
  return baseOf(root, parent)
}

/** The packages TREE's package database says are installed (empty when the distro cannot tell). */
export async function installedPackages(tree: string, distro: string): Promise<Set<string>> {
  const install = getDistro(distro).install
  if (!install) return new Set()
  return install.parseDatabase((await readInTree(tree, install.databasePath)) ?? '')
}

export interface LayerHooks {
  onProgress?: (progress: Progress) => void
  signal?: AbortSignal
}

/**
 * The layer with PACKAGES over the base of IMAGE (IMAGE's own layer packages included), built the
 * first time. The layer files of every service whose packages it holds go into it before the
 * packages are installed: a layer is the same whichever service asked for it first.
 */
export async function ensurePackageLayer(root: string, image: ImageRecord, packages: readonly string[], hooks: LayerHooks = {}): Promise<ImageRecord> {
  const base = await baseOf(root, image)
  const all = [...new Set([...(image.packages ?? []), ...packages])].sort()
  const layerFiles = layerFilesFor(base.distro, all)
  const id = layerId(base.id, all, layerFiles)
  const cached = await readImage(root, id)
  if (cached) return cached
  const install = getDistro(base.distro).install
  if (!install) throw new CtrError('UNSUPPORTED', `ctr cannot install packages into ${base.distro} trees`, {hints: ['install them inside the container: ctr shell NAME']})
  requireProgram('systemd-nspawn')
  return stageImage(root, id, hooks, async (upper) => {
    const started = Date.now()
    const staging = join(upper, '..')
    const work = join(staging, 'work')
    const merged = join(staging, 'merged')
    await mkdir(work)
    await mkdir(merged)
    await run(overlayMountArgv([imagePaths(root, base.id).tree], upper, work, merged))
    try {
      for (const file of layerFiles) await writeInTree(merged, file.path, fileText(file), parseMode(file.mode))
      // policy-rc.d: no package starts its daemon while it is installed (none could run here anyway).
      await writeInTree(merged, '/usr/sbin/policy-rc.d', '#!/bin/sh\nexit 101\n', 0o755)
      await installInTree(merged, base.distro, all, hooks)
      await removeInTree(merged, '/usr/sbin/policy-rc.d')
    } finally {
      if (await isMountPoint(merged)) await run(['umount', merged])
    }
    await rm(work, {recursive: true, force: true})
    await rm(merged, {recursive: true, force: true})
    const {distro, release, mirror, extraPackages} = base
    return {distro, release, mirror, extraPackages, parent: base.id, packages: all, bootstrapSeconds: Math.round((Date.now() - started) / 100) / 10}
  })
}

/** Runs the distro's installer inside TREE (not booted), trying once more with fresh lists when the old ones may be stale. */
async function installInTree(tree: string, distro: string, packages: readonly string[], hooks: LayerHooks): Promise<void> {
  const install = getDistro(distro).install!
  /** The first try failed in a way fresher package lists may mend. */
  class StaleLists extends CtrError {}
  const attempt = async (refresh: boolean) => {
    const tracker = install.progressTracker()
    const argv = nspawnRunArgv({tree, machine: `ctr-layer-${process.pid}`, hostHasSystemd: hostHasSystemd(), env: install.env, command: install.argv(packages, refresh)})
    await runTracked(argv, {
      signal: hooks.signal,
      feed: (line) => tracker.feed(line),
      onProgress: hooks.onProgress,
      fail: (text, lastLines) => {
        if (!refresh && install.staleLists(text)) return new StaleLists('COMMAND_FAILED', 'stale package lists')
        return install.classifyFailure(text) ?? new CtrError('COMMAND_FAILED', `installing ${packages.join(', ')} failed`, {hints: [`its last output:\n${lastLines}`]})
      },
    })
  }
  try {
    await attempt(false)
  } catch (error) {
    if (!(error instanceof StaleLists)) throw error
    hooks.onProgress?.({fraction: 0.01, label: 'updating the package lists'})
    await attempt(true)
  }
}

/** The layer files of the services whose packages on DISTRO are among PACKAGES. */
export function layerFilesFor(distro: string, packages: readonly string[]): RecipeFile[] {
  return serviceCatalogue().flatMap((s) => {
    const own = s.packages[distro] ?? []
    return own.length > 0 && own.some((p) => packages.includes(p)) ? filesFor(s.layerFiles, distro) : []
  })
}

function parseMode(mode: string | undefined): number {
  return mode === undefined ? 0o644 : parseInt(mode, 8)
}

/**
 * Files of LAYER that the container's own upper dir has a copy of (or has removed), which would
 * hide the layer's: the packages would be half there. Paths in ALLOWED (prefixes) are the
 * container's own by design (its identity, units, logs, a service's data) and never count.
 */
export async function hiddenByUpper(upper: string, layer: string, allowed: readonly string[]): Promise<string[]> {
  const hidden: string[] = []
  const walk = async (rel: string): Promise<void> => {
    let entries
    try {
      entries = await readdir(join(layer, rel), {withFileTypes: true})
    } catch {
      return
    }
    for (const entry of entries) {
      const path = `${rel}/${entry.name}`
      if (allowed.some((a) => path === a || path.startsWith(a.endsWith('/') ? a : `${a}/`))) continue
      const mine = await lstat(join(upper, path)).catch(() => undefined)
      if (!mine) continue
      if (entry.isDirectory() && mine.isDirectory()) await walk(path)
      else hidden.push(path)
      if (hidden.length >= 20) return
    }
  }
  await walk('')
  return hidden
}

/** What every container writes of its own (customize.ts, profiles, boots): never a conflict with a layer. */
export const CONTAINER_OWN_PATHS = [
  '/etc/machine-id',
  '/etc/.pwd.lock',
  '/etc/hostname',
  '/etc/hosts',
  '/etc/resolv.conf',
  '/etc/localtime',
  '/etc/ssh',
  '/etc/systemd',
  '/etc/tmpfiles.d',
  '/root',
  '/tmp',
  '/var/tmp',
  '/var/log',
  '/var/cache',
  '/var/lib/systemd',
  '/run',
]
