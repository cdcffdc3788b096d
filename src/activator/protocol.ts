/**
 * The control API: one JSON request line per connection to ROOT/activator/control.sock (mode 0600,
 * so only root), one JSON response line back.
 */
import {join} from 'node:path'
import type {ContainerStatus, StatusReport} from '../status/types.js'
import {layout} from '../store/paths.js'
import type {ErrorCode} from '../errors.js'

export type Request =
  | {op: 'ping'}
  | {op: 'status'}
  | {op: 'start'; name: string; now: boolean}
  | {op: 'stop'; name: string; keepPorts: boolean}
  | {op: 'forget'; name: string}
  | {op: 'refresh'; name: string}
  | {op: 'wake'; name: string}

export interface Results {
  ping: {pid: number; root: string; rssBytes: number; memory?: NodeJS.MemoryUsage}
  status: StatusReport
  start: ContainerStatus
  stop: ContainerStatus
  forget: null
  refresh: ContainerStatus
  wake: {pid: number; leader: number}
}

export type Response<T = unknown> = {ok: true; result: T} | {ok: false; error: {code: ErrorCode; message: string; hints: string[]}}

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
