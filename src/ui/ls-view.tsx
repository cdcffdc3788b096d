/**
 * The interactive `ctr ls` screen as a pure component: everything it shows comes in as props, so a
 * test renders any state to a string. LsApp (ls-app.tsx) owns the state, keys and refreshing.
 */
import {Box, Text} from 'ink'
import type {StatusReport} from '../status/types.js'
import {layoutColumns} from './columns.js'
import {DetailPane, detailChromeLines} from './detail-pane.js'
import {Footer} from './footer.js'
import {ActivatorBanner, FetchErrorLine, OutcomeLine, PromptLine, promptLines} from './prompts.js'
import {HeaderRow, MARKER_WIDTH, Rows} from './rows.js'
import {type Outcome, type ViewMode, scrollWindow, visibleContainers} from './view-model.js'

export interface LsViewProps {
  /** undefined until the first status arrives. */
  report?: StatusReport
  /** ms since the epoch, for "3m ago". */
  now: number
  /** Terminal columns and rows; the view never draws more, so ink never has to clear the screen. */
  width: number
  height?: number
  color: boolean
  selected?: string
  filter: string
  mode: ViewMode
  outcome?: Outcome
  /** Why the last refresh failed, if it did (the last good report stays on screen). */
  fetchError?: string
}

/** Rows fewer than the terminal's keep ink's cheap in-place redraw (it clears the screen otherwise). */
const SPARE_LINES = 1
/** Rows of the table kept in sight while the detail pane is open. */
const ROWS_WITH_DETAIL = 3

export function LsView(props: LsViewProps) {
  const {report, now, width, color, filter, mode, outcome} = props
  if (!report) {
    // Nothing to list yet: say why (a first read that failed says so), and how to leave.
    return (
      <Box flexDirection="column">
        {props.fetchError ? <FetchErrorLine message={props.fetchError} color={color} /> : <Text>reading the status…</Text>}
        <Text dimColor={color}>q quit</Text>
      </Box>
    )
  }
  const shown = visibleContainers(report, filter)
  // Widths come from every container, so the columns do not jump while a filter is typed.
  const columns = layoutColumns(report.containers, width - MARKER_WIDTH, now)
  const detail = mode.kind === 'detail' ? report.containers.find((c) => c.name === mode.name) : undefined

  const height = props.height ?? Infinity
  const chrome =
    (report.live ? 0 : 1) + (props.fetchError ? 1 : 0) + 1 /* header */ + 2 /* footer */ + promptLines(mode, filter, outcome) + SPARE_LINES
  const detailLines = detail && mode.kind === 'detail' ? detailChromeLines(detail, mode.details) : 0
  const rowBudget = detail ? Math.min(ROWS_WITH_DETAIL, height - chrome - detailLines) : height - chrome
  const selectedIndex = shown.findIndex((c) => c.name === props.selected)
  const window = scrollWindow(shown, selectedIndex, Math.max(1, rowBudget))
  const journalLines = Math.max(1, height - chrome - detailLines - window.rows.length)

  // No fixed width on the boxes: on a resize ink redraws the last tree at the new terminal width
  // before React renders again; a fixed width would wrap every line then and leave stale rows behind.
  // The lines are laid out for `width` and truncate at the terminal's edge.
  return (
    <Box flexDirection="column">
      {report.live ? null : <ActivatorBanner color={color} />}
      {props.fetchError ? <FetchErrorLine message={props.fetchError} color={color} /> : null}
      <HeaderRow columns={columns} color={color} />
      {shown.length === 0 ? (
        <Text wrap="truncate-end">
          {report.containers.length === 0 ? '  no containers (create one: ctr create debian NAME)' : `  no container matches "${filter}"`}
        </Text>
      ) : (
        <Rows containers={window.rows} columns={columns} now={now} selected={props.selected} color={color} />
      )}
      {detail && mode.kind === 'detail' ? (
        <DetailPane
          container={detail}
          details={mode.details}
          error={mode.error}
          now={now}
          journalLines={journalLines}
          color={color}
        />
      ) : null}
      <PromptLine mode={mode} filter={filter} color={color} />
      <OutcomeLine outcome={outcome} color={color} />
      <Footer containers={report.containers} mode={mode} width={width} color={color} />
    </Box>
  )
}
