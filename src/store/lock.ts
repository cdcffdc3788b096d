/**
 * One lock for the whole state root: flock(2) on ROOT/.lock. The kernel drops it when the process
 * dies, so a killed ctr never leaves a stale lock behind. Non-blocking tries with a short sleep keep
 * the event loop free (Ctrl-C still works while waiting). Within one process, callers queue on a
 * promise chain; code already inside the lock (tracked per async context) may take it again.
 */
import {AsyncLocalStorage} from 'node:async_hooks'
import {mkdir, open} from 'node:fs/promises'
import {dirname} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {CtrError} from '../errors.js'
import {EWOULDBLOCK, LOCK_EX, LOCK_NB, LOCK_UN, errno, flock} from '../sys/libc.js'

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

async function lockedRun<T>(lockFile: string, body: () => Promise<T>, timeoutMs: number): Promise<T> {
  await mkdir(dirname(lockFile), {recursive: true})
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
      return await body()
    } finally {
      flock(handle.fd, LOCK_UN)
    }
  } finally {
    await handle.close()
  }
}
