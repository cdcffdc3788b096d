/**
 * The control API: one JSON request line per connection to ROOT/activator/control.sock (mode 0600,
 * so only root), one JSON response line back.
 */
import {join} from 'node:path'
import type {ContainerHistory, ContainerStatus, StatusReport} from '../status/types.js'
import type {RunningBoot} from './held-container.js'
import {layout} from '../store/paths.js'
import {CtrError, type ErrorCode} from '../errors.js'
import type {Exposure} from '../store/containers.js'

export type Request =
  | {op: 'ping'}
  | {op: 'status'}
  | {op: 'start'; name: string; now: boolean}
  | {op: 'stop'; name: string; keepPorts: boolean}
  | {op: 'forget'; name: string}
  | {op: 'refresh'; name: string}
  | {op: 'pause'; name: string; ports: Exposure[]}
  | {op: 'wake'; name: string}
  | {op: 'handover'}

export interface Results {
  ping: {pid: number; root: string; rssBytes: number; memory?: NodeJS.MemoryUsage; build?: BuildId; unit?: string}
  status: StatusReport
  start: ContainerStatus & {already?: 'held' | 'running'}
  stop: ContainerStatus
  forget: null
  refresh: ContainerStatus
  pause: ContainerStatus
  wake: {pid: number; leader: number}
  handover: HandedOver
}

/** Which build of ctr an activator process runs: its daemon.js and when that was built. */
export interface BuildId {
  entry: string
  mtimeMs: number
}

/**
 * What an activator hands the one replacing it: what it holds (as held.json says it), the boots
 * that run, and its own fd number of every held socket, which the new one copies with pidfd_getfd.
 */
export interface HandedOver {
  pid: number
  containers: string[]
  history: Record<string, ContainerHistory>
  running: Record<string, RunningBoot>
  sockets: Record<string, number>
}

/** Who answered: every response says it, so that a newer ctr can replace an older activator. */
export interface Answerer {
  pid: number
  build?: BuildId
  /** The systemd service it runs as (ctr activator --unit): a newer ctr restarts that, rather than replacing it from outside. */
  unit?: string
}

export type Response<T = unknown> = ({ok: true; result: T} | {ok: false; error: {code: ErrorCode; message: string; hints: string[]}}) & {from?: Answerer}

export function controlSocket(root: string): string {
  return join(layout(root).activatorDir, 'control.sock')
}

export function activatorLog(root: string): string {
  return join(layout(root).activatorDir, 'activator.log')
}

export function activatorLockFile(root: string): string {
  return join(layout(root).activatorDir, 'activator.lock')
}

/** What nspawn and the container's console printed during its last boot. */
export function consoleLog(root: string, name: string): string {
  return join(layout(root).activatorDir, `${name}.console.log`)
}

/** RUNNING for expose/unexpose of a container that is up: refused by the CLI early and by the activator's pause. */
export function portsFixedWhileUp(name: string, state: string): CtrError {
  return new CtrError('RUNNING', `${name} is ${state}: its ports can change only while it is off`, {
    hints: [`power it off first, keeping it held: ctr stop --hold ${name}; then run this again (the next connection boots it with the new ports)`],
  })
}
