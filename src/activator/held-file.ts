/**
 * held.json: which containers this root's activator holds, so that a restarted activator holds the
 * same ports again, and what it remembers of them (wakes, the last stop) across releases and its
 * own restarts. Written soon after a change; a burst of changes makes one write.
 */
import {join} from 'node:path'
import type {ContainerHistory} from '../status/types.js'
import type {RunningBoot} from './held-container.js'
import {readJson, writeJsonAtomic} from '../store/atomic.js'
import {layout} from '../store/paths.js'

export interface HeldFile {
  containers: string[]
  /** Wakes and the last stop of the containers this root's activators have held, when there is something to say. */
  history?: Record<string, ContainerHistory>
  /** The boots that run, so that an activator starting after this one died can take them over. */
  running?: Record<string, RunningBoot>
  /**
   * The activator that wrote this stopped on purpose (ctr activator --stop, SIGTERM): its containers
   * are powered off and its ports closed. Otherwise it died, and the next ctr command that needs an
   * activator starts one, which takes over at once.
   */
  clean?: boolean
}

export function heldFile(root: string): string {
  return join(layout(root).activatorDir, 'held.json')
}

export async function readHeldFile(root: string): Promise<HeldFile | undefined> {
  return readJson<HeldFile>(heldFile(root))
}

/** Reads the held list without an activator (for `ctr ls` when it is down). */
export async function readHeld(root: string): Promise<string[]> {
  return (await readHeldFile(root))?.containers ?? []
}

/** The last activator of ROOT died holding containers: one should run again, at once. */
export async function activatorDied(root: string): Promise<boolean> {
  const file = await readHeldFile(root).catch(() => undefined)
  return file !== undefined && file.clean !== true && file.containers.length > 0
}

/** Writes what SNAPSHOT returns to held.json, 20 ms after the first of a burst of persist() calls. */
export class HeldFileWriter {
  private writing: Promise<void> = Promise.resolve()
  private queued = false

  constructor(
    private readonly root: string,
    private readonly snapshot: () => HeldFile,
    private readonly log: (message: string) => void,
  ) {}

  persist(): void {
    if (this.queued) return
    this.queued = true
    this.writing = this.writing.then(async () => {
      await new Promise((r) => setTimeout(r, 20))
      this.queued = false
      await writeJsonAtomic(heldFile(this.root), this.snapshot()).catch((error) => this.log(`cannot write held.json: ${String(error)}`))
    })
  }

  /** Resolves when every write asked for so far is on disk. */
  flushed(): Promise<void> {
    return this.writing
  }
}

/** Only containers with something to remember: a thousand held, never woken ones would make every write a thousand entries longer. */
export function historyWorthKeeping(histories: ReadonlyMap<string, ContainerHistory>): Record<string, ContainerHistory> {
  return Object.fromEntries([...histories].filter(([, h]) => h.wakes > 0 || h.lastStopReason).sort(([a], [b]) => a.localeCompare(b)))
}
