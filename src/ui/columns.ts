/**
 * Which columns `ctr ls` shows at a given width, and how wide each is. Pure and shared by the plain
 * table and the interactive view. When the row does not fit, columns first shrink (long names and
 * port lists are cut, "3m ago in 840ms" becomes "3m ago"), then drop one at a time in DROP_ORDER:
 * what also shows in the detail pane or matters least for "what is awake and what does it cost" goes
 * first; NAME, STATE and PORTS always stay.
 */
import type {ContainerStatus} from '../status/types.js'
import {formatBytes, formatDuration, formatIdle, formatIsolation, formatLastWake, formatMs, formatPorts, formatState, truncate} from './format.js'

export type ColumnId = 'name' | 'distro' | 'net' | 'state' | 'ports' | 'conn' | 'wakes' | 'lastWake' | 'uptime' | 'memory' | 'cpu' | 'pids' | 'idle'

interface ColumnSpec {
  id: ColumnId
  header: string
  align: 'left' | 'right'
  /** Cut long values to this width at most, and shrink down to `min` when space is short. */
  max?: number
  min?: number
  cell(c: ContainerStatus, now: number): string
  /** A shorter rendering used before the column is cut. */
  short?(c: ContainerStatus, now: number): string
}

const COLUMNS: ColumnSpec[] = [
  {id: 'name', header: 'NAME', align: 'left', max: 24, min: 8, cell: (c) => c.name},
  {id: 'distro', header: 'DISTRO', align: 'left', max: 16, cell: (c) => `${c.distro} ${c.release}`.trim()},
  {id: 'net', header: 'NET', align: 'left', cell: (c) => formatIsolation(c)},
  {id: 'state', header: 'STATE', align: 'left', cell: (c) => formatState(c), short: (c) => c.state},
  {id: 'ports', header: 'PORTS', align: 'left', max: 40, min: 10, cell: (c) => formatPorts(c)},
  {id: 'conn', header: 'CONN', align: 'right', cell: (c) => String(c.connections)},
  {id: 'wakes', header: 'WAKES', align: 'right', cell: (c) => String(c.wakes)},
  {
    id: 'lastWake',
    header: 'LAST WAKE',
    align: 'left',
    cell: (c, now) => formatLastWake(c, now),
    short: (c, now) => formatLastWake(c, now, true),
  },
  {id: 'uptime', header: 'UP', align: 'right', cell: (c) => (c.uptimeSec === undefined ? '-' : formatDuration(c.uptimeSec))},
  {id: 'memory', header: 'MEM', align: 'right', cell: (c) => (c.memoryBytes === undefined ? '-' : formatBytes(c.memoryBytes))},
  {id: 'cpu', header: 'CPU', align: 'right', cell: (c) => (c.cpuSec === undefined ? '-' : formatMs(c.cpuSec * 1000))},
  {id: 'pids', header: 'PIDS', align: 'right', cell: (c) => (c.tasks === undefined ? '-' : String(c.tasks))},
  {id: 'idle', header: 'IDLE', align: 'right', cell: (c) => formatIdle(c)},
]

/** First dropped first. */
export const DROP_ORDER: ColumnId[] = ['pids', 'net', 'cpu', 'wakes', 'distro', 'uptime', 'lastWake', 'idle', 'conn', 'memory']

/** How many of DROP_ORDER's first columns are dropped before anything is shortened. */
const DROPPED_WHOLE = 3

/** Short renderings, first used first: the wake's duration goes before why a container stopped. */
const SHORT_ORDER: ColumnId[] = ['lastWake', 'state']

export const COLUMN_GAP = 2

export interface LaidOutColumn {
  id: ColumnId
  header: string
  align: 'left' | 'right'
  width: number
  /** Use the short rendering (the full one did not fit). */
  useShort: boolean
}

/**
 * The columns to show within `width` characters, given the rows they must hold. Names and ports
 * are cut only as a last resort: a cut name or port is wrong, a dropped column is just absent.
 */
export function layoutColumns(containers: ContainerStatus[], width: number, now: number): LaidOutColumn[] {
  const measured = COLUMNS.map((spec) => measure(spec, containers, now))
  let shown = measured
  // The first columns of DROP_ORDER (PIDS, NET, CPU) go before any other column is shortened.
  for (const drop of [undefined, ...DROP_ORDER.slice(0, DROPPED_WHOLE)]) {
    if (drop) shown = shown.filter((m) => m.spec.id !== drop)
    if (sum(shown.map((m) => m.full)) + COLUMN_GAP * Math.max(0, shown.length - 1) <= width) return shown.map((m) => ({...base(m.spec), width: m.full, useShort: false}))
  }
  for (const drop of [undefined, ...DROP_ORDER.slice(DROPPED_WHOLE)]) {
    if (drop) shown = shown.filter((m) => m.spec.id !== drop)
    const fitted = fit(shown, width, false)
    if (fitted) return fitted
  }
  // NAME, STATE and PORTS whole do not fit: cut them, or at their smallest let the row be cut.
  return fit(shown, width, true) ?? shown.map((m) => ({...base(m.spec), width: m.min, useShort: m.short < m.full}))
}

/** The text of one cell at its laid-out width, padded and aligned. */
export function renderCell(column: LaidOutColumn, c: ContainerStatus, now: number): string {
  const spec = specOf(column.id)
  const text = column.useShort && spec.short ? spec.short(c, now) : spec.cell(c, now)
  return align(truncate(text, column.width), column.width, column.align)
}

export function renderHeader(column: LaidOutColumn): string {
  return align(truncate(column.header, column.width), column.width, column.align)
}

/** The whole row (header when `c` is undefined), columns joined by the gap, without trailing blanks. */
export function renderRow(columns: LaidOutColumn[], c: ContainerStatus | undefined, now: number): string {
  const cells = columns.map((column) => (c ? renderCell(column, c, now) : renderHeader(column)))
  return cells.join(' '.repeat(COLUMN_GAP)).trimEnd()
}

interface Measured {
  spec: ColumnSpec
  /** Widest full rendering (or the header), capped at max. */
  full: number
  /** Widest short rendering. */
  short: number
  /** The least this column may take. */
  min: number
}

function measure(spec: ColumnSpec, containers: ContainerStatus[], now: number): Measured {
  const widest = (render: (c: ContainerStatus) => string) =>
    Math.min(Math.max(spec.header.length, ...containers.map((c) => render(c).length)), spec.max ?? Infinity)
  const full = widest((c) => spec.cell(c, now))
  const short = spec.short ? widest((c) => spec.short!(c, now)) : full
  const min = spec.min === undefined ? short : Math.min(spec.min, short)
  return {spec, full, short, min}
}

/** Widths for these columns within `width` (short forms, and cuts when CUT); undefined when they cannot fit. */
function fit(shown: Measured[], width: number, cut: boolean): LaidOutColumn[] | undefined {
  const gaps = COLUMN_GAP * Math.max(0, shown.length - 1)
  const widths = shown.map((m) => m.full)
  let excess = sum(widths) + gaps - width
  if (excess <= 0) return shown.map((m, i) => ({...base(m.spec), width: widths[i], useShort: false}))
  const least = shown.map((m) => (cut ? m.min : m.short))
  if (sum(least) + gaps > width) return undefined
  // Short renderings first (they lose the least), then cut the widest shrinkable column, one at a time.
  const useShort = shown.map(() => false)
  for (const id of SHORT_ORDER) {
    const i = shown.findIndex((m) => m.spec.id === id)
    const m = shown[i]
    if (excess > 0 && m && m.short < m.full) {
      excess -= m.full - m.short
      widths[i] = m.short
      useShort[i] = true
    }
  }
  while (excess > 0) {
    let widest = -1
    shown.forEach((m, i) => {
      if (widths[i] > least[i] && (widest < 0 || widths[i] - least[i] > widths[widest] - least[widest])) widest = i
    })
    widths[widest]--
    excess--
  }
  return shown.map((m, i) => ({...base(m.spec), width: widths[i], useShort: useShort[i]}))
}

function base(spec: ColumnSpec) {
  return {id: spec.id, header: spec.header, align: spec.align}
}

function specOf(id: ColumnId): ColumnSpec {
  return COLUMNS.find((s) => s.id === id)!
}

function align(text: string, width: number, side: 'left' | 'right'): string {
  return side === 'left' ? text.padEnd(width) : text.padStart(width)
}

function sum(values: number[]): number {
  return values.reduce((a, b) => a + b, 0)
}
