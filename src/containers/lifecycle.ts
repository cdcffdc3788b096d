/**
 * ctr start / stop: batch verbs, one report per container (podman's habit): the command prints
 * every one and fails if any did. The activator does the work; it is started in the background
 * when it does not run.
 */
import {callActivator, ensureActivator} from '../activator/client.js'
import {CtrError, isCtrError, type ErrorCode} from '../errors.js'
import type {ContainerStatus} from '../status/types.js'
import {getContainer} from '../store/containers.js'

export interface ItemReport {
  name: string
  /** already: ctr start found it held (or running) already, which is no error. */
  status?: ContainerStatus & {already?: 'held' | 'running'}
  error?: {code: string; message: string; hints: string[]}
}

export interface BatchReport {
  items: ItemReport[]
  /** pid of the activator, and whether this command started it. */
  activator?: {pid: number; started: boolean}
}

export function failed(report: BatchReport): boolean {
  return report.items.some((i) => i.error)
}

/**
 * The exit code of a batch verb: 0 when every item went well; 2 when what failed was usage (a name
 * no container can have, a bad argument), as a single command's would; 1 otherwise.
 */
export function batchExitCode(errors: ReadonlyArray<{code: string} | undefined>): number {
  const codes = errors.filter((e): e is {code: string} => e !== undefined).map((e) => new CtrError(e.code as ErrorCode, '').exitCode)
  if (codes.length === 0) return 0
  return codes.every((c) => c === 2) ? 2 : 1
}

/**
 * An item's error message that names the item once: "p1 is running" stays as it is, "the
 * activator did not come up within 15 s" becomes "p1: the activator ...". (Prefixing every message
 * printed "ctr: p1: p1 is running".)
 */
export function namedMessage(name: string, message: string): string {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
  return new RegExp(`(^|[^\\w.-])${escaped}($|[^\\w-])`).test(message) ? message : `${name}: ${message}`
}

async function each(names: readonly string[], body: (name: string) => Promise<ContainerStatus>): Promise<ItemReport[]> {
  const items: ItemReport[] = []
  for (const name of names) {
    try {
      items.push({name, status: await body(name)})
    } catch (error) {
      const e = isCtrError(error) ? error : new CtrError('COMMAND_FAILED', error instanceof Error ? error.message : String(error))
      items.push({name, error: {...e.toJSON(), message: namedMessage(name, e.message)}})
    }
  }
  return items
}

export async function startContainers(root: string, names: readonly string[], options: {now: boolean}): Promise<BatchReport> {
  let activator: BatchReport['activator']
  const items = await each(names, async (name) => {
    await getContainer(root, name)
    activator ??= await ensureActivator(root)
    return callActivator(root, {op: 'start', name, now: options.now})
  })
  return {items, activator}
}

export async function stopContainers(root: string, names: readonly string[], options: {keepPorts: boolean}): Promise<BatchReport> {
  const items = await each(names, async (name) => {
    await getContainer(root, name)
    try {
      return await callActivator(root, {op: 'stop', name, keepPorts: options.keepPorts})
    } catch (error) {
      if (isCtrError(error) && error.code === 'ACTIVATOR_DOWN') {
        throw new CtrError('NOT_RUNNING', `${name} is not started (the activator does not run)`)
      }
      throw error
    }
  })
  return {items}
}

/** For `ctr rm`: the activator powers the container off and lets its ports go; no-op when down. */
export async function releaseContainer(root: string, name: string): Promise<void> {
  try {
    await callActivator(root, {op: 'forget', name})
  } catch (error) {
    if (!(isCtrError(error) && error.code === 'ACTIVATOR_DOWN')) throw error
  }
}
