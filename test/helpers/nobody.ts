/**
 * Running the CLI as nobody (the non-root cases): nobody must be able to reach bin/ctr at all. A
 * checkout under a private directory (CI's clone may be in a mktemp -d) gets o+x on the dirs above
 * it while the cases run; restoreNobodyPaths() puts their modes back.
 */
import {chmod, stat} from 'node:fs/promises'
import {dirname} from 'node:path'
import {CTR} from './cli.js'

const opened: Array<[string, number]> = []

export async function letNobodyReachCtr(): Promise<void> {
  for (let dir = dirname(CTR); dir !== '/'; dir = dirname(dir)) {
    const mode = (await stat(dir)).mode & 0o7777
    if ((mode & 0o001) === 0 && !opened.some(([d]) => d === dir)) {
      opened.push([dir, mode])
      await chmod(dir, mode | 0o001)
    }
  }
}

export async function restoreNobodyPaths(): Promise<void> {
  for (const [dir, mode] of opened.splice(0).reverse()) await chmod(dir, mode)
}
