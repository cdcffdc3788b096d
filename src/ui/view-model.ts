/**
 * What the interactive `ctr ls` shows besides the rows, as plain data and pure functions: the
 * actions it can run, what an action's outcome looks like, filtering, selection and the totals.
 * No ink here, so the command and the tests can use these without loading React.
 */
import type {ContainerStatus, StatusReport} from '../status/types.js'

/** What the detail pane shows beyond the status: the container's settings and its last journal lines. */
export interface ContainerDetails {
  settings: Array<[label: string, value: string]>
  journal: string[]
}

/**
 * The work the view can ask for. Each may resolve to a sentence saying what happened (else the
 * view says "web started" and so on) and rejects with the error to show.
 */
export interface LsActions {
  start(name: string): Promise<string | void>
  stop(name: string): Promise<string | void>
  restart(name: string): Promise<string | void>
  remove(name: string): Promise<string | void>
  details(name: string): Promise<ContainerDetails>
  /** Follows the journal on this terminal until `signal` fires (Ctrl-C). */
  followLogs(name: string, signal: AbortSignal): Promise<void>
}

export type ActionName = 'start' | 'stop' | 'restart' | 'remove'

/** The line under the rows saying what the last action did. */
export type Outcome =
  | {kind: 'pending'; text: string}
  | {kind: 'done'; text: string}
  | {kind: 'failed'; text: string; hints: string[]}

export const PENDING_TEXT: Record<ActionName, (name: string) => string> = {
  start: (name) => `starting ${name}…`,
  stop: (name) => `stopping ${name}…`,
  restart: (name) => `restarting ${name}…`,
  remove: (name) => `removing ${name}…`,
}

export const DONE_TEXT: Record<ActionName, (name: string) => string> = {
  start: (name) => `${name} started: its ports are held, it boots on the first connection`,
  stop: (name) => `${name} stopped`,
  restart: (name) => `${name} restarted`,
  remove: (name) => `${name} removed`,
}

/** The failure as the view shows it: what was tried, the error's one line, and its hints. */
export function failedOutcome(verb: ActionName | 'logs' | 'details', name: string, error: unknown): Outcome {
  const message = error instanceof Error ? error.message : String(error)
  const hints = error instanceof Error && 'hints' in error && Array.isArray(error.hints) ? error.hints.flatMap((h) => String(h).split('\n')) : []
  return {kind: 'failed', text: `${verb} ${name} failed: ${message}`, hints}
}

/** Containers whose name contains the filter text (case-insensitive). */
export function visibleContainers(report: StatusReport, filter: string): ContainerStatus[] {
  const needle = filter.toLowerCase()
  return needle ? report.containers.filter((c) => c.name.toLowerCase().includes(needle)) : report.containers
}

/**
 * The selected name after moving by `delta` rows. Selection follows the name, not the row number,
 * so a refresh that adds or removes containers does not move it to another container.
 */
export function moveSelection(names: string[], selected: string | undefined, delta: number): string | undefined {
  if (names.length === 0) return undefined
  const at = selected === undefined ? -1 : names.indexOf(selected)
  if (at < 0) return names[0]
  return names[Math.min(names.length - 1, Math.max(0, at + delta))]
}

/** The selected name if it is still shown, else the first shown. */
export function keepSelection(names: string[], selected: string | undefined): string | undefined {
  return selected !== undefined && names.includes(selected) ? selected : names[0]
}

export interface Totals {
  containers: number
  running: number
  /** Ports the activator holds: those of every container that is not stopped. */
  heldPorts: number
  memoryBytes: number
}

export function totals(containers: ContainerStatus[]): Totals {
  return {
    containers: containers.length,
    running: containers.filter((c) => c.state === 'running').length,
    heldPorts: containers.filter((c) => c.state !== 'stopped').reduce((n, c) => n + c.ports.length, 0),
    memoryBytes: containers.reduce((n, c) => n + (c.memoryBytes ?? 0), 0),
  }
}

/** NO_COLOR (https://no-color.org): present and not empty turns colour off. */
export function colorWanted(env: NodeJS.ProcessEnv = process.env): boolean {
  return !env.NO_COLOR
}

/** What the view is doing besides listing: typing a filter, asking before a removal, showing details. */
export type ViewMode =
  | {kind: 'list'}
  | {kind: 'filter'}
  | {kind: 'confirm-remove'; name: string}
  | {kind: 'detail'; name: string; details?: ContainerDetails; error?: string}

/** The rows that fit in `budget` lines, keeping the selected one in sight. */
export function scrollWindow<T>(rows: T[], selectedIndex: number, budget: number): {rows: T[]; first: number} {
  const size = Math.max(1, budget)
  if (rows.length <= size) return {rows, first: 0}
  const first = Math.min(Math.max(0, selectedIndex - Math.floor(size / 2)), rows.length - size)
  return {rows: rows.slice(first, first + size), first}
}
