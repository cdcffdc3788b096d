/** The pane Enter opens: the container's live figures, its settings, and its last journal lines. */
import {Box, Text} from 'ink'
import type {ContainerStatus} from '../status/types.js'
import {formatBytes, formatDuration, formatIdle, formatIsolation, formatLastWake, formatMs, formatPorts, formatState} from './format.js'
import {paint} from './theme.js'
import type {ContainerDetails} from './view-model.js'

interface DetailPaneProps {
  container: ContainerStatus
  details?: ContainerDetails
  error?: string
  now: number
  /** Journal lines that fit; the newest are kept. */
  journalLines: number
  color: boolean
}

/** What the status alone says, shown at once while the settings and journal load. */
export function statusFacts(c: ContainerStatus, now: number): Array<[string, string]> {
  const facts: Array<[string, string]> = [
    ['state', formatState(c)],
    ['ports', formatPorts(c)],
    ['connections', String(c.connections)],
    ['wakes', `${c.wakes}, last ${formatLastWake(c, now)}`],
    ['idle timeout', c.idleTimeoutSec > 0 ? `${formatDuration(c.idleTimeoutSec)} (left: ${formatIdle(c)})` : 'never'],
  ]
  if (c.pid !== undefined) facts.push(['pid', String(c.pid)])
  const usage = [
    c.memoryBytes === undefined ? undefined : `memory ${formatBytes(c.memoryBytes)}${c.limits?.memoryBytes ? ` of ${formatBytes(c.limits.memoryBytes)}` : ''}`,
    c.cpuSec === undefined ? undefined : `CPU ${formatMs(c.cpuSec * 1000)}${c.limits?.cpus ? ` (at most ${c.limits.cpus} CPUs)` : ''}`,
    c.tasks === undefined ? undefined : `${c.tasks} tasks${c.limits?.pids ? ` of ${c.limits.pids}` : ''}`,
  ].filter((part) => part !== undefined)
  if (usage.length > 0) facts.push(['uses', usage.join(', ')])
  facts.push(['network', `${formatIsolation(c)}${c.address ? `, ${c.address}` : ''}`])
  if (c.uidBase !== undefined) facts.push(['user IDs', `${c.uidBase}-${c.uidBase + 65535} on the host`])
  return facts
}

export function DetailPane({container, details, error, now, journalLines, color}: DetailPaneProps) {
  const facts = [...statusFacts(container, now), ...(details?.settings ?? [])]
  const labelWidth = Math.max(...facts.map(([label]) => label.length)) + 2
  const journal = details ? details.journal.slice(-Math.max(0, journalLines)) : []
  return (
    <Box flexDirection="column" borderStyle="single" borderColor={paint('cyan', color)} paddingX={1}>
      <Text bold={color} wrap="truncate-end">
        {container.name} ({`${container.distro} ${container.release}`.trim()}, {container.profile})
      </Text>
      {facts.map(([label, value]) => (
        <Text key={label} wrap="truncate-end">
          {`${label}:`.padEnd(labelWidth)}
          {value}
        </Text>
      ))}
      <Text bold={color} wrap="truncate-end">
        journal
      </Text>
      {error ? (
        <Text color={paint('red', color)} wrap="truncate-end">
          cannot read the details: {error}
        </Text>
      ) : !details ? (
        <Text dimColor={color}>loading…</Text>
      ) : journal.length === 0 ? (
        <Text dimColor={color}>(no journal lines yet)</Text>
      ) : (
        journal.map((line, i) => (
          <Text key={i} wrap="truncate-end">
            {line}
          </Text>
        ))
      )}
    </Box>
  )
}

/** Lines the pane takes apart from journal lines (border, title, facts, "journal"). */
export function detailChromeLines(container: ContainerStatus, details?: ContainerDetails): number {
  return 2 + 1 + statusFacts(container, 0).length + (details?.settings.length ?? 0) + 1
}
