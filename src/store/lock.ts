/**
 * One lock for the whole state root: flock(2) on ROOT/.lock. The kernel drops it when the process
 * dies, so a killed ctr never leaves a stale lock behind. Non-blocking tries with a short sleep keep
 * the event loop free (Ctrl-C still works while waiting). Within one process, callers queue on a
 * promise chain; code already inside the lock (tracked per async context) may take it again.
 *
 * Taking the state lock is where a command starts to change the root, so it is also where the root
 * is made private (store/root.ts) and where what a killed ctr left is swept away (store/sweep.ts),
 * once per process: whoever holds the lock knows that nobody else is making anything it guards.
 */
import {AsyncLocalStorage} from 'node:async_hooks'
import {mkdir, open} from 'node:fs/promises'
import {dirname} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {CtrError} from '../errors.js'
import {debug} from '../log.js'
import {EWOULDBLOCK, LOCK_EX, LOCK_NB, LOCK_UN, errno, flock} from '../sys/libc.js'
import {layout} from './paths.js'
import {prepareRoot} from './root.js'
import {sweepDebris} from './sweep.js'

const inside = new AsyncLocalStorage<ReadonlySet<string>>()
const queues = new Map<string, Promise<unknown>>()

export async function withLock<T>(lockFile: string, body: () => Promise<T>, timeoutMs = 120_000): Promise<T> {
  const holding = inside.getStore() ?? new Set<string>()
  if (holding.has(lockFile)) return body()
  const previous = queues.get(lockFile) ?? Promise.resolve()
  const mine = previous.catch(() => {}).then(() => lockedRun(lockFile, () => inside.run(new Set([...holding, lockFile]), body), timeoutMs))
  queues.set(lockFile, mine)
  try {
    return await mine
  } finally {
    if (queues.get(lockFile) === mine) queues.delete(lockFile)
  }
}

/** ROOT when LOCKFILE is ROOT's state lock (ROOT/.lock), not an image's or the activator's. */
function stateRootOf(lockFile: string): string | undefined {
  const root = dirname(lockFile)
  return layout(root).lockFile === lockFile ? root : undefined
}

const swept = new Set<string>()

async function sweepOnce(root: string): Promise<void> {
  if (swept.has(root)) return
  try {
    await sweepDebris(root)
    swept.add(root)
  } catch (error) {
    // Debris costs disk, not correctness (it is never listed): the command itself goes on.
    debug(`sweeping ${root} failed: ${(error as Error).message}`)
  }
}

async function lockedRun<T>(lockFile: string, body: () => Promise<T>, timeoutMs: number): Promise<T> {
  const root = stateRootOf(lockFile)
  if (root) await prepareRoot(root)
  else await mkdir(dirname(lockFile), {recursive: true, mode: 0o700})
  const handle = await open(lockFile, 'a', 0o600)
  try {
    const deadline = Date.now() + timeoutMs
    while (flock(handle.fd, LOCK_EX | LOCK_NB) !== 0) {
      if (errno() !== EWOULDBLOCK) throw new Error(`flock ${lockFile} failed: errno ${errno()}`)
      if (Date.now() > deadline) {
        throw new CtrError('LOCKED', `another ctr holds the lock on ${lockFile}`, {hints: ['wait for it to finish, then try again']})
      }
      await sleep(25)
    }
    try {
      if (root) await sweepOnce(root)
      return await body()
    } finally {
      flock(handle.fd, LOCK_UN)
    }
  } finally {
    await handle.close()
  }
}

/**
 * BODY under LOCKFILE if it can be taken at once (true); false, without running BODY, when another
 * process (or another open of it in this one) holds it.
 */
export async function tryLock(lockFile: string, body: () => Promise<void>): Promise<boolean> {
  const handle = await open(lockFile, 'a', 0o600)
  try {
    if (flock(handle.fd, LOCK_EX | LOCK_NB) !== 0) {
      if (errno() !== EWOULDBLOCK) throw new Error(`flock ${lockFile} failed: errno ${errno()}`)
      return false
    }
    try {
      await body()
      return true
    } finally {
      flock(handle.fd, LOCK_UN)
    }
  } finally {
    await handle.close()
  }
}
