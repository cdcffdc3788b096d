/**
 * The memory of a running container, read by the bench itself to cross-check what the activator
 * reports (`memoryBytes`: the VmRSS of nspawn's process tree): the same tree summed here, both as
 * RSS (a page shared by two processes counts twice) and as PSS (shared pages split between the
 * processes that map them, so the sum is what the container really adds to the host).
 */
import {readFileSync} from 'node:fs'
import {processTree} from '../../src/activator/proc.js'

export interface TreeMemory {
  rssBytes: number
  pssBytes: number
  /** Every process of the tree, nspawn first. */
  processes: Array<{comm: string; rssBytes: number; pssBytes: number}>
}

function kbField(text: string, field: string): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text)
  return m ? Number(m[1]) * 1024 : 0
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8')
  } catch {
    return ''
  }
}

/** RSS and PSS of PID and all its descendants (processes that exit meanwhile count as 0). */
export function treeMemory(pid: number): TreeMemory {
  let rssBytes = 0
  let pssBytes = 0
  const processes: TreeMemory['processes'] = []
  for (const p of processTree(pid)) {
    const status = readOr(`/proc/${p}/status`)
    if (!status) continue
    const one = {comm: readOr(`/proc/${p}/comm`).trim(), rssBytes: kbField(status, 'VmRSS'), pssBytes: kbField(readOr(`/proc/${p}/smaps_rollup`), 'Pss')}
    rssBytes += one.rssBytes
    pssBytes += one.pssBytes
    processes.push(one)
  }
  return {rssBytes, pssBytes, processes}
}

/** VmRSS of one process, in bytes. */
export function processRss(pid: number): number {
  return kbField(readOr(`/proc/${pid}/status`), 'VmRSS')
}
