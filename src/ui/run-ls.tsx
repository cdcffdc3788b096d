/**
 * Runs the interactive `ctr ls` on this terminal until q (or Ctrl-C). `l` leaves the view for the
 * container's journal and comes back on Ctrl-C: a follower is an endless stream of long lines, and
 * on the plain terminal it keeps the scrollback, search and copy that a redrawn pane would lose.
 */
import {render} from 'ink'
import type {StatusReport} from '../status/types.js'
import {LsApp, type LsExit} from './ls-app.js'
import {failedOutcome, type LsActions, type Outcome} from './view-model.js'

export interface RunLsOptions {
  fetchStatus(): Promise<StatusReport>
  actions: LsActions
  color: boolean
  refreshMs?: number
  stdout?: NodeJS.WriteStream
  stdin?: NodeJS.ReadStream
}

export async function runLsApp(options: RunLsOptions): Promise<void> {
  const stdout = options.stdout ?? process.stdout
  // Spelled out: ink spreads its options over the defaults, so `stdin: undefined` would mean no stdin.
  const stdin = options.stdin ?? process.stdin
  let resume: {selected?: string; filter?: string; outcome?: Outcome} = {}
  for (;;) {
    let ended: LsExit = {kind: 'quit'}
    const instance = render(
      <LsApp
        fetchStatus={options.fetchStatus}
        actions={options.actions}
        color={options.color}
        refreshMs={options.refreshMs}
        initial={resume}
        onExit={(e) => (ended = e)}
      />,
      // Not incrementalRendering: in ink 6.8 it leaves stale lines when the frame loses a line (the
      // activator banner going away). The default redraw is one write inside a synchronized-output
      // block (DEC 2026), and the view stays shorter than the terminal, so it does not flicker.
      {stdout, stdin, exitOnCtrlC: true},
    )
    await instance.waitUntilExit()
    const exit = ended as LsExit
    if (exit.kind === 'quit') return
    instance.clear()
    instance.cleanup()
    const outcome = await followLogs(exit.name, options.actions, stdout)
    resume = {selected: exit.selected, filter: exit.filter, outcome}
  }
}

/** Follows the journal until Ctrl-C, which ends the follower only: the view comes back. */
async function followLogs(name: string, actions: LsActions, stdout: NodeJS.WriteStream): Promise<Outcome> {
  stdout.write(`-- journal of ${name}; Ctrl-C goes back to ctr ls --\n`)
  const controller = new AbortController()
  const onInterrupt = () => controller.abort()
  process.on('SIGINT', onInterrupt)
  try {
    await actions.followLogs(name, controller.signal)
    return {kind: 'done', text: `back from the journal of ${name}`}
  } catch (error) {
    if (controller.signal.aborted) return {kind: 'done', text: `back from the journal of ${name}`}
    return failedOutcome('logs', name, error)
  } finally {
    process.off('SIGINT', onInterrupt)
  }
}
