/**
 * The suite's running count, for the summary printed at its end (afterAll): connections made and
 * lost, and each fault with whether everything held after it.
 */
import type {ProbeResult} from './probe.js'

interface Fault {
  group: string
  fault: string
  survived: boolean
  note?: string
}

const counts = {made: 0, refused: 0, reset: 0, closed: 0, timeout: 0, other: 0}
const faults: Fault[] = []
const notes: string[] = []

export function countConnections(results: readonly ProbeResult[]): void {
  for (const r of results) {
    if (r.outcome === 'ok') counts.made++
    else counts[r.outcome]++
  }
}

export function recordFault(group: string, fault: string, survived: boolean, note?: string): void {
  faults.push({group, fault, survived, note})
}

export function note(line: string): void {
  notes.push(line)
}

export function summary(): string {
  const lostCount = counts.refused + counts.reset + counts.closed + counts.timeout + counts.other
  const survived = faults.filter((f) => f.survived).length
  const lines = [
    '',
    '================ npm run test:faults: summary ================',
    `connections: ${counts.made + lostCount} fired, ${counts.made} made (banner read), ${lostCount} lost (must be 0)` +
      (lostCount > 0 ? `: ${counts.refused} refused, ${counts.reset} reset, ${counts.closed} closed before the banner, ${counts.timeout} timed out, ${counts.other} other` : ''),
    `faults: ${survived} of ${faults.length} survived`,
  ]
  let group = ''
  for (const f of faults) {
    if (f.group !== group) lines.push(`  ${(group = f.group)}:`)
    lines.push(`    ${f.survived ? 'ok  ' : 'FAIL'} ${f.fault}${f.note ? ` (${f.note})` : ''}`)
  }
  if (notes.length > 0) lines.push('figures:', ...notes.map((n) => `  ${n}`))
  lines.push('==============================================================')
  return lines.join('\n')
}
