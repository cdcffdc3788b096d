/**
 * Short, fixed-style renderings of the numbers `ctr ls` shows (durations, sizes, ports). Pure: the
 * plain table and the interactive view share them, so both say the same thing the same way.
 */
import type {ContainerStatus} from '../status/types.js'
import {describeExposure} from '../store/containers.js'

/** 45s, 12m30s, 2h05m, 3d04h: at most six characters, the two largest units. */
export function formatDuration(totalSec: number): string {
  const sec = Math.max(0, Math.floor(totalSec))
  if (sec < 60) return `${sec}s`
  const min = Math.floor(sec / 60)
  if (min < 60) return `${min}m${pad2(sec % 60)}s`
  const hours = Math.floor(min / 60)
  if (hours < 24) return `${hours}h${pad2(min % 60)}m`
  return `${Math.floor(hours / 24)}d${pad2(hours % 24)}h`
}

/** 840ms, 1.25s, 12.5s, 2m05s: how long a wake-up took. */
export function formatMs(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)}ms`
  if (ms < 10_000) return `${(ms / 1000).toFixed(2)}s`
  if (ms < 60_000) return `${(ms / 1000).toFixed(1)}s`
  return formatDuration(ms / 1000)
}

/** 1024-based, as ps and top count: 812K, 23.4M, 1.2G. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'K', 'M', 'G', 'T']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  const digits = unit === 0 || value >= 100 ? 0 : 1
  return `${value.toFixed(digits)}${units[unit]}`
}

/** "3m ago" from an ISO time; "-" for a time that does not parse. */
export function formatAgo(iso: string, now: number): string {
  const then = Date.parse(iso)
  if (Number.isNaN(then)) return '-'
  return `${formatDuration((now - then) / 1000)} ago`
}

export function formatPorts(c: ContainerStatus): string {
  return c.ports.length === 0 ? '-' : c.ports.map((p) => describeExposure(p)).join(',')
}

/** "listening (idle)": the state, and why it last stopped when it is not running; "broken (why)". */
/** What the container shares with the host: its network mode (host, private), "+userns" with user IDs of its own. */
export function formatIsolation(c: ContainerStatus): string {
  return `${c.network ?? 'host'}${c.privateUsers ? '+userns' : ''}`
}

export function formatState(c: ContainerStatus): string {
  if (c.state === 'broken') return c.lastError ? `broken (${c.lastError})` : 'broken'
  const off = c.state === 'stopped' || c.state === 'listening'
  return off && c.lastStopReason ? `${c.state} (${c.lastStopReason})` : c.state
}

/** The idle countdown: time left when idle, "in use" while connections are open, "-" otherwise. */
export function formatIdle(c: ContainerStatus): string {
  if (c.state !== 'running' || c.idleTimeoutSec <= 0) return '-'
  if (c.idleRemainingSec !== undefined) return formatDuration(c.idleRemainingSec)
  return c.connections > 0 ? 'in use' : '-'
}

/** "3m ago in 840ms", or the short form "3m ago" when the column is tight. */
export function formatLastWake(c: ContainerStatus, now: number, short = false): string {
  if (!c.lastWakeAt) return '-'
  const ago = formatAgo(c.lastWakeAt, now)
  return short || c.lastWakeMs === undefined ? ago : `${ago} in ${formatMs(c.lastWakeMs)}`
}

/** Cuts text to width, marking the cut with an ellipsis. */
export function truncate(text: string, width: number): string {
  if (width <= 0) return ''
  if (text.length <= width) return text
  return width === 1 ? '…' : `${text.slice(0, width - 1)}…`
}

function pad2(n: number): string {
  return String(n).padStart(2, '0')
}
