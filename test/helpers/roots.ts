/**
 * State roots for integration tests: each test file gets its own root, with the run's cached
 * Debian base linked in (bootstrapped on first use), and removes it afterwards: nspawn processes it
 * started are stopped by pid, its mounts unmounted, the directory removed.
 */
import {rm} from 'node:fs/promises'
import {inject} from 'vitest'
import {ensureImage, imageId, readImage} from '../../src/rootfs/images.js'
import {ensurePackageLayer} from '../../src/rootfs/layers.js'
import {getService, servicePackages} from '../../src/units/services.js'
import {destroyRoot, stopPid} from './cleanup.js'
import {linkedRoot} from './state-roots.js'

export const isRoot = process.getuid?.() === 0

/** Integration tests need root (mounts, nspawn); on a machine without root they skip and say why. */
export function skipReason(): string | undefined {
  // CI runs as root with every tool installed by bin/setup: there, nothing is ever skipped; a test
  // that cannot run fails.
  if (process.env.CI) return undefined
  if (!isRoot) return 'container tests need root (mounts, systemd-nspawn); skipped'
  return undefined
}

let baseReady: Promise<void> | undefined

/** The run's cached Debian base, bootstrapped with the real debootstrap the first time. */
export async function cachedBase(): Promise<{cacheRoot: string; id: string}> {
  const cacheRoot = inject('ctrTestCache')
  baseReady ??= ensureImage(cacheRoot, {distro: 'debian'}, {
    onProgress: (() => {
      let tenth = -1
      return (p: {fraction: number; label: string}) => {
        if (Math.floor(p.fraction * 10) > tenth) {
          tenth = Math.floor(p.fraction * 10)
          process.stderr.write(`[test base] debootstrap ${tenth * 10}% ${p.label}\n`)
        }
      }
    })(),
  }).then(() => undefined)
  await baseReady
  return {cacheRoot, id: imageId('debian', 'bookworm')}
}

const layersReady = new Map<string, Promise<string>>()

/**
 * The run's package layer for SERVICES over the cached base (rootfs/layers.ts), built with the
 * real apt-get the first time; its image id. Shared by the suites as the base is.
 */
export async function cachedLayer(services: readonly string[]): Promise<string> {
  const {cacheRoot, id} = await cachedBase()
  const packages = [...new Set(services.flatMap((s) => servicePackages(getService(s), 'debian')))].sort()
  const key = packages.join(',')
  if (!layersReady.has(key)) {
    const base = (await readImage(cacheRoot, id))!
    layersReady.set(key, ensurePackageLayer(cacheRoot, base, packages).then((layer) => layer.id))
  }
  return layersReady.get(key)!
}

/** A fresh state root with the cached base linked in, and the layers for the service sets in LAYERS. */
export async function makeTestRoot(options: {layers?: ReadonlyArray<readonly string[]>} = {}): Promise<string> {
  const {cacheRoot, id} = await cachedBase()
  const ids = [id, ...(await Promise.all((options.layers ?? []).map((services) => cachedLayer(services))))]
  return linkedRoot('ctr-test-root-', cacheRoot, ids)
}

/** Stops (by pid) every nspawn booting a container of ROOT, unmounts, removes ROOT. */
export const destroyTestRoot = destroyRoot
export {stopPid}

/**
 * The end of a container test file: its in-process activator closed (powering its containers off),
 * its root destroyed, its key pair removed, and the activator's log printed if it kept one.
 */
export async function tearDown(parts: {activator?: {close(): Promise<void>}; root?: string; keys?: {dir: string}; log?: readonly string[]}): Promise<void> {
  await parts.activator?.close()
  if (parts.root) await destroyTestRoot(parts.root)
  if (parts.keys) await rm(parts.keys.dir, {recursive: true, force: true})
  if (parts.log && parts.log.length > 0) console.log(`activator log:\n${parts.log.join('\n')}`)
}
