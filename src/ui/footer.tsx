/** The two lines under the table: totals, and the keys (shorter when the terminal is narrow). */
import {Box, Text} from 'ink'
import type {ContainerStatus} from '../status/types.js'
import {formatBytes} from './format.js'
import {totals, type ViewMode} from './view-model.js'

const LIST_KEYS = [
  '↑↓/jk select  ⏎ details  s start  x stop  r restart  d remove  l logs  / filter  q quit',
  'jk ⏎ details s start x stop r restart d rm l logs / filter q quit',
  'jk ⏎ s start x stop r restart d rm l logs / filter q quit',
  'jk ⏎ s x r d l / q',
]
const DETAIL_KEYS = ['esc/⏎ back  s start  x stop  r restart  d remove  l logs  q quit', 'esc back s x r d l q']

export function keysLine(mode: ViewMode, width: number): string {
  if (mode.kind === 'filter') return 'type a name  ⏎ keep filter  esc clear'
  if (mode.kind === 'confirm-remove') return 'y remove  n/esc keep'
  const choices = mode.kind === 'detail' ? DETAIL_KEYS : LIST_KEYS
  return choices.find((line) => line.length <= width) ?? choices.at(-1)!
}

export function totalsLine(containers: ContainerStatus[]): string {
  const t = totals(containers)
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`
  return `${plural(t.containers, 'container')}, ${t.running} running, ${plural(t.heldPorts, 'held port')}, ${formatBytes(t.memoryBytes)} in use`
}

export function Footer({containers, mode, width, color}: {containers: ContainerStatus[]; mode: ViewMode; width: number; color: boolean}) {
  return (
    <Box flexDirection="column">
      <Text wrap="truncate-end">{totalsLine(containers)}</Text>
      <Text wrap="truncate-end" dimColor={color}>
        {keysLine(mode, width)}
      </Text>
    </Box>
  )
}
