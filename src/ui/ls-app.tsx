/**
 * The interactive `ctr ls`: polls the status, keeps the selection, filter and mode, and runs what
 * the keys ask for through the injected actions. What it draws is LsView's business.
 */
import {useApp, useInput, useStdout} from 'ink'
import {useCallback, useEffect, useRef, useState} from 'react'
import type {StatusReport} from '../status/types.js'
import {keyCommand, splitKeys, type KeyCommand} from './keys.js'
import {LsView} from './ls-view.js'
import {
  DONE_TEXT,
  PENDING_TEXT,
  failedOutcome,
  keepSelection,
  moveSelection,
  type ActionName,
  type ContainerDetails,
  type LsActions,
  type Outcome,
  type ViewMode,
  visibleContainers,
} from './view-model.js'

/** How the view ended: quit, or leave to follow a container's journal (and come back after). */
export type LsExit = {kind: 'quit'} | {kind: 'logs'; name: string; selected?: string; filter: string}

export interface LsAppProps {
  fetchStatus(): Promise<StatusReport>
  actions: LsActions
  color: boolean
  onExit(exit: LsExit): void
  /** Where to pick up after following logs. */
  initial?: {selected?: string; filter?: string; outcome?: Outcome}
  refreshMs?: number
  /** The detail pane re-reads settings and journal this often. */
  detailRefreshMs?: number
  clock?: () => number
  /** Terminal size; read from stdout (and its resize events) when not given. */
  width?: number
  height?: number
}

/** What the view holds between renders; see useLatest for why it lives in a ref. */
interface UiState {
  report?: StatusReport
  fetchError?: string
  now: number
  selected?: string
  filter: string
  mode: ViewMode
  outcome?: Outcome
}

export function LsApp(props: LsAppProps) {
  const {fetchStatus, actions, color, onExit} = props
  const clock = props.clock ?? Date.now
  const {exit} = useApp()
  const size = useTerminalSize()
  const [ui, update] = useLatest<UiState>({
    now: clock(),
    selected: props.initial?.selected,
    filter: props.initial?.filter ?? '',
    mode: {kind: 'list'},
    outcome: props.initial?.outcome,
  })

  const refresh = useRefresh(
    fetchStatus,
    (patch) => update({...patch, now: clock(), mode: modeAfter(ui().mode, patch.report)}),
    () => ui().report,
  )
  useEffect(() => {
    void refresh()
    const timer = setInterval(() => void refresh(), props.refreshMs ?? 1000)
    return () => clearInterval(timer)
  }, [refresh, props.refreshMs])

  const {mode} = ui()
  const detailName = mode.kind === 'detail' ? mode.name : undefined
  useEffect(() => {
    if (!detailName) return
    const into = (patch: {details?: ContainerDetails; error?: string}) => {
      const m = ui().mode
      if (m.kind === 'detail' && m.name === detailName) update({mode: {...m, ...patch}})
    }
    const load = () =>
      actions.details(detailName).then(
        (details) => into({details, error: undefined}),
        (error: unknown) => into({error: messageOf(error)}),
      )
    void load()
    const timer = setInterval(() => void load(), props.detailRefreshMs ?? 2000)
    return () => clearInterval(timer)
  }, [detailName, actions, props.detailRefreshMs])

  const shownNames = () => {
    const {report, filter} = ui()
    return report ? visibleContainers(report, filter).map((c) => c.name) : []
  }
  const current = () => keepSelection(shownNames(), ui().selected)
  const target = () => {
    const m = ui().mode
    return m.kind === 'detail' ? m.name : current()
  }

  const runAction = async (action: ActionName, name: string) => {
    update({outcome: {kind: 'pending', text: PENDING_TEXT[action](name)}})
    try {
      const said = await actions[action](name)
      update({outcome: {kind: 'done', text: said || DONE_TEXT[action](name)}})
    } catch (error) {
      update({outcome: failedOutcome(action, name, error)})
    }
    await refresh()
  }

  const run = (command: KeyCommand) => {
    const {mode, filter} = ui()
    const name = target()
    switch (command.type) {
      case 'move':
        return update({selected: moveSelection(shownNames(), current(), command.delta)})
      case 'open-detail':
        return name && update({mode: {kind: 'detail', name}})
      case 'close-detail':
        return update({mode: {kind: 'list'}, selected: mode.kind === 'detail' ? mode.name : ui().selected})
      case 'action':
        return name && void runAction(command.action, name)
      case 'ask-remove':
        return name && update({mode: {kind: 'confirm-remove', name}})
      case 'remove':
        update({mode: {kind: 'list'}})
        return mode.kind === 'confirm-remove' && void runAction('remove', mode.name)
      case 'keep':
        return mode.kind === 'confirm-remove' && update({mode: {kind: 'list'}, outcome: {kind: 'done', text: `kept ${mode.name}`}})
      case 'logs':
        if (!name) return
        onExit({kind: 'logs', name, selected: name, filter})
        return exit()
      case 'filter-start':
        return update({mode: {kind: 'filter'}})
      case 'filter-type':
        return update({filter: filter + command.text})
      case 'filter-erase':
        return update({filter: filter.slice(0, -1)})
      case 'filter-accept':
        return update({mode: {kind: 'list'}})
      case 'filter-clear':
        return update({filter: '', mode: {kind: 'list'}})
      case 'quit':
        onExit({kind: 'quit'})
        return exit()
    }
  }

  useInput((input, key) => {
    for (const [one, oneKey] of splitKeys(input, key)) {
      const command = keyCommand(ui().mode, one, oneKey)
      if (command) run(command)
    }
  })

  const state = ui()
  return (
    <LsView
      report={state.report}
      now={state.now}
      width={props.width ?? size.width}
      height={props.height ?? size.height}
      color={color}
      selected={current()}
      filter={state.filter}
      mode={state.mode}
      outcome={state.outcome}
      fetchError={state.fetchError}
    />
  )
}

/**
 * State kept in a ref and changed at once, with a render scheduled after. Keys can arrive faster
 * than React re-renders (a paste, tmux send-keys, `d` then `y`): each key must see what the one
 * before it did, not the state of the last render.
 */
function useLatest<T>(initial: T): [() => T, (patch: Partial<T>) => void] {
  const ref = useRef(initial)
  const [, setVersion] = useState(0)
  const update = useCallback((patch: Partial<T>) => {
    ref.current = {...ref.current, ...patch}
    setVersion((v) => v + 1)
  }, [])
  return [useCallback(() => ref.current, []), update]
}

/**
 * One status read at a time (a slow activator must not pile up requests); the report is replaced
 * only when it changed, so an unchanged second redraws nothing but the clock-driven cells.
 */
function useRefresh(
  fetchStatus: () => Promise<StatusReport>,
  apply: (patch: {report?: StatusReport; fetchError?: string}) => void,
  previous: () => StatusReport | undefined,
) {
  const inFlight = useRef<Promise<void> | undefined>(undefined)
  return useCallback(() => {
    inFlight.current ??= (async () => {
      try {
        const next = await fetchStatus()
        const last = previous()
        apply({report: last && JSON.stringify(last) === JSON.stringify(next) ? last : next, fetchError: undefined})
      } catch (error) {
        apply({fetchError: messageOf(error)})
      } finally {
        inFlight.current = undefined
      }
    })()
    return inFlight.current
  }, [fetchStatus])
}

function useTerminalSize(): {width: number; height?: number} {
  const {stdout} = useStdout()
  const read = () => ({width: stdout.columns || 80, height: stdout.rows || undefined})
  const [size, setSize] = useState(read)
  useEffect(() => {
    const onResize = () => setSize(read())
    stdout.on('resize', onResize)
    return () => {
      stdout.off('resize', onResize)
    }
  }, [stdout])
  return size
}

/** A pane or question about a container that is gone (removed elsewhere) closes. */
function modeAfter(mode: ViewMode, report?: StatusReport): ViewMode {
  if (!report || (mode.kind !== 'detail' && mode.kind !== 'confirm-remove')) return mode
  return report.containers.some((c) => c.name === mode.name) ? mode : {kind: 'list'}
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
