/**
 * Instances of a container on its tree, found in one scan of /proc: the nspawn processes booting
 * it, and the inits (PID 1 of a pid namespace) whose root is the tree. An init outlives a killed
 * nspawn, re-parented and untracked, and goes on serving the port from its copy of the sockets;
 * a second boot on the same tree would then make two systemd PID 1s share one overlay. So an init
 * without its nspawn is killed before anything else boots the tree.
 */
import {setTimeout as sleep} from 'node:timers/promises'
import {reap} from '../sys/spawn.js'
import {signal} from '../sys/process.js'
import {directoryId, isNamespaceInit, nspawnTree, processGone, scanProcesses, type ProcessEntry} from './proc.js'

export interface TreeInstances {
  nspawn: number[]
  inits: number[]
}

export function instancesOn(tree: string, processes: readonly ProcessEntry[] = scanProcesses()): TreeInstances {
  const want = tree.replace(/\/+$/, '')
  const id = directoryId(want)
  return {
    nspawn: processes.filter((p) => nspawnTree(p.argv) === want).map((p) => p.pid),
    inits: id === undefined ? [] : processes.filter((p) => p.rootId === id && isNamespaceInit(p.pid)).map((p) => p.pid),
  }
}

/**
 * SIGKILL to each init (the kernel then kills everything in its namespace), and waits until they
 * are gone; one that became this process's child (the activator is a subreaper) is reaped.
 */
export async function killInits(inits: readonly number[], timeoutMs = 5000): Promise<void> {
  for (const pid of inits) signal(pid, 'SIGKILL')
  const deadline = Date.now() + timeoutMs
  for (;;) {
    for (const pid of inits) reap(pid)
    if (inits.every(processGone) || Date.now() > deadline) return
    await sleep(10)
  }
}
