/** The table part of the view: the header and one line per container, the state cell coloured. */
import {Box, Text} from 'ink'
import type {ContainerStatus} from '../status/types.js'
import {COLUMN_GAP, type LaidOutColumn, renderCell, renderHeader} from './columns.js'
import {stateColour} from './theme.js'

const GAP = ' '.repeat(COLUMN_GAP)
/** Width of the selection marker in front of every row. */
export const MARKER_WIDTH = 2

export function HeaderRow({columns, color}: {columns: LaidOutColumn[]; color: boolean}) {
  return (
    <Text bold={color} wrap="truncate-end">
      {' '.repeat(MARKER_WIDTH)}
      {columns.map((column) => renderHeader(column)).join(GAP).trimEnd()}
    </Text>
  )
}

interface ContainerRowProps {
  container: ContainerStatus
  columns: LaidOutColumn[]
  now: number
  selected: boolean
  color: boolean
}

export function ContainerRow({container, columns, now, selected, color}: ContainerRowProps) {
  const at = columns.findIndex((column) => column.id === 'state')
  const cells = columns.map((column) => renderCell(column, container, now))
  const before = cells.slice(0, at).map((cell) => cell + GAP).join('')
  const after = cells.slice(at + 1).map((cell) => GAP + cell).join('').trimEnd()
  return (
    <Text wrap="truncate-end" bold={selected && color} inverse={selected && color}>
      {selected ? '> ' : '  '}
      {before}
      <Text color={selected ? undefined : stateColour(container.state, color)}>{cells[at]}</Text>
      {after}
    </Text>
  )
}

export function Rows(props: {containers: ContainerStatus[]; columns: LaidOutColumn[]; now: number; selected?: string; color: boolean}) {
  return (
    <Box flexDirection="column">
      {props.containers.map((c) => (
        <ContainerRow key={c.name} container={c} columns={props.columns} now={props.now} selected={c.name === props.selected} color={props.color} />
      ))}
    </Box>
  )
}
