/**
 * State roots for integration tests: each test file gets its own root, with the run's cached
 * Debian base linked in (bootstrapped on first use), and removes it afterwards: nspawn processes it
 * started are stopped by pid, its mounts unmounted, the directory removed.
 */
import {mkdir, mkdtemp, rm, symlink} from 'node:fs/promises'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {inject} from 'vitest'
import {nspawnPidsFor} from '../../src/containers/processes.js'
import {ensureImage, imageId} from '../../src/rootfs/images.js'
import {unmountUnder} from '../../src/rootfs/mount.js'
import {listContainers} from '../../src/store/containers.js'
import {containerPaths, layout} from '../../src/store/paths.js'

export const isRoot = process.getuid?.() === 0

/** Integration tests need root (mounts, nspawn); elsewhere they skip and say why. */
export function skipReason(): string | undefined {
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

/** A fresh state root with the cached base linked in. */
export async function makeTestRoot(): Promise<string> {
  const {cacheRoot, id} = await cachedBase()
  const root = await mkdtemp('/var/tmp/ctr-test-root-')
  await mkdir(layout(root).images, {recursive: true})
  await symlink(join(layout(cacheRoot).images, id), join(layout(root).images, id))
  return root
}

/** Stops (by pid) every nspawn booting a container of ROOT, unmounts, removes ROOT. */
export async function destroyTestRoot(root: string): Promise<void> {
  for (const c of await listContainers(root).catch(() => [])) {
    for (const pid of await nspawnPidsFor(containerPaths(root, c.name).rootfs)) await stopPid(pid)
  }
  await unmountUnder(root)
  await rm(root, {recursive: true, force: true})
}

/** SIGTERM (orderly poweroff for nspawn), then SIGKILL after a grace period. */
export async function stopPid(pid: number, graceMs = 15_000): Promise<void> {
  const alive = () => {
    try {
      process.kill(pid, 0)
      return true
    } catch {
      return false
    }
  }
  if (!alive()) return
  process.kill(pid, 'SIGTERM')
  const deadline = Date.now() + graceMs
  while (alive() && Date.now() < deadline) await sleep(100)
  if (alive()) process.kill(pid, 'SIGKILL')
  while (alive()) await sleep(50)
}
