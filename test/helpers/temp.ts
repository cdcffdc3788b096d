/** Temporary directories for unit tests, each removed after the test that made it. */
import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach} from 'vitest'

/** Call at the top of a describe block (or file); the returned function makes a fresh directory. */
export function useTempDirs(prefix = 'ctr-unit-'): () => Promise<string> {
  const made: string[] = []
  afterEach(async () => {
    await Promise.all(made.splice(0).map((dir) => rm(dir, {recursive: true, force: true})))
  })
  return async () => {
    const dir = await mkdtemp(join(tmpdir(), prefix))
    made.push(dir)
    return dir
  }
}
