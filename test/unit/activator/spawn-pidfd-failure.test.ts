/**
 * pidfd_open failing right after posix_spawn (EMFILE, say) left a running nspawn that nothing
 * tracked: no exit watch, no stop, no reap. The failure cannot be caused for real without making
 * posix_spawn fail first, so the pidfd opener is injected; the spawned process is real.
 */
import {existsSync} from 'node:fs'
import {mkdir} from 'node:fs/promises'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {containerCgroupDirs, removeRootCgroups} from '../../../src/activator/cgroups.js'
import {HeldContainer, type HeldContext} from '../../../src/activator/held-container.js'
import {spawnNspawn} from '../../../src/activator/spawn-nspawn.js'
import {SocketWatcher} from '../../../src/activator/watcher.js'
import type {ContainerRecord} from '../../../src/store/containers.js'
import {layout} from '../../../src/store/paths.js'
import {useTempDirs} from '../../helpers/temp.js'

/** A pidfd opener that fails as pidfd_open(2) does when the fd table is full; remembers the pid. */
function failingOpener() {
  const seen: number[] = []
  return {
    seen,
    pidfdOpen: (pid: number): number => {
      seen.push(pid)
      // The child is running now: without the fix, nothing would ever stop it.
      expect(existsSync(`/proc/${pid}`)).toBe(true)
      throw Object.assign(new Error(`pidfd_open(${pid}) failed: errno 24`), {errno: 24})
    },
  }
}

/** Gone for good: no process and no zombie left with that pid. */
function gone(pid: number): boolean {
  return !existsSync(`/proc/${pid}`)
}

describe('spawnNspawn when pidfd_open fails after posix_spawn', () => {
  const tempDir = useTempDirs()
  let watcher: SocketWatcher | undefined
  afterEach(async () => {
    await watcher?.close()
    watcher = undefined
  })

  it('kills and reaps the child by pid, and throws', async () => {
    const opener = failingOpener()
    watcher = new SocketWatcher()
    const exits: unknown[] = []
    const consoleLog = join(await tempDir(), 'console.log')
    expect(() => spawnNspawn(['/bin/sleep', '30'], [], consoleLog, watcher!, (...a) => exits.push(a), opener)).toThrow(
      /pidfd_open\(\d+\) failed: errno 24; nspawn pid \d+ was killed and reaped/,
    )
    expect(opener.seen).toHaveLength(1)
    expect(gone(opener.seen[0])).toBe(true)
    expect(exits).toEqual([])
  })

  it('a held container whose nspawn gets no pidfd: the boot is reported failed, nspawn gone, ready for the next try', async () => {
    const root = await tempDir()
    await mkdir(layout(root).activatorDir, {recursive: true})
    const tree = await tempDir()
    const opener = failingOpener()
    watcher = new SocketWatcher()
    const log: string[] = []
    const ctx: HeldContext = {
      root,
      watcher,
      hostHasSystemd: false,
      stopTimeoutMs: 1000,
      log: (m) => log.push(m),
      prepareTree: async () => tree,
      onReleased: () => {},
      onSettled: () => {},
      spawnDeps: opener,
    }
    const record: ContainerRecord = {
      name: 'p1',
      distro: 'debian',
      release: 'bookworm',
      image: 'debian-bookworm',
      storage: 'copy',
      profile: 'lean',
      createdAt: new Date(0).toISOString(),
      ports: [],
      idleTimeoutSec: 0,
    }
    const c = new HeldContainer(ctx, record)
    await c.boot()
    expect(opener.seen).toHaveLength(1)
    expect(gone(opener.seen[0])).toBe(true)
    expect(c.state).toBe('listening')
    expect(c.nspawnPid).toBeUndefined()
    expect(c.history.lastStopReason).toBe('boot-failed')
    expect(c.history.lastError).toMatch(/^cannot run systemd-nspawn: pidfd_open\(\d+\) failed: errno 24; nspawn pid \d+ was killed and reaped$/)
    await expect(c.waitRunning(2000)).rejects.toMatchObject({code: 'BOOT_FAILED', message: 'p1 failed to boot'})
    expect(log.some((m) => m.startsWith('p1: boot failed: cannot run systemd-nspawn: pidfd_open'))).toBe(true)
    // The cgroups made for the boot went with it; the root's own parent is removed here.
    for (const dir of containerCgroupDirs(root, 'p1')) expect(existsSync(dir), dir).toBe(false)
    expect(removeRootCgroups(root)).toBe(true)
  })
})
