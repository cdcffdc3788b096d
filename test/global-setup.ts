/**
 * One base tree per test run: integration tests bootstrap Debian (for real, with debootstrap) the
 * first time one needs it, into a cache root made here and removed at the end of the run. Set
 * CTR_TEST_CACHE=DIR to keep the cache between runs while developing.
 */
import {mkdtemp, rm} from 'node:fs/promises'
import type {TestProject} from 'vitest/node'

export default async function setup(project: TestProject) {
  const keep = process.env.CTR_TEST_CACHE
  const cache = keep || (await mkdtemp('/var/tmp/ctr-test-cache-'))
  project.provide('ctrTestCache', cache)
  return async () => {
    if (!keep) {
      const {unmountUnder} = await import('../src/rootfs/mount.js')
      await unmountUnder(cache).catch(() => {})
      await rm(cache, {recursive: true, force: true})
    }
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    ctrTestCache: string
  }
}
