/**
 * The plain table of `ctr ls` when stdout is not a terminal (or the caller wants text). No ink here:
 * piping `ctr ls` must stay cheap and never touch the terminal.
 */
import type {StatusReport} from '../status/types.js'
import {layoutColumns, renderRow} from './columns.js'

export interface TableOptions {
  /** Columns of the output; Infinity (the default) shows every column uncut, as a pipe wants. */
  width?: number
  /** ms since the epoch, for "3m ago"; now by default. */
  now?: number
}

export function formatTable(report: StatusReport, options: TableOptions = {}): string {
  const width = options.width ?? Infinity
  const now = options.now ?? Date.now()
  if (report.containers.length === 0) return 'no containers (create one: ctr create debian NAME)\n'
  const columns = layoutColumns(report.containers, width, now)
  const lines = [renderRow(columns, undefined, now), ...report.containers.map((c) => renderRow(columns, c, now))]
  return `${lines.join('\n')}\n`
}

/** `ctr ls -q`: one name a line. */
export function formatNames(report: StatusReport): string {
  return report.containers.map((c) => `${c.name}\n`).join('')
}

/** The one line on stderr when the states come from the store because the activator did not answer. */
export const ACTIVATOR_DOWN_NOTE =
  'the activator is not running: states are read from the store, nothing is live (ctr start NAME starts it)'
