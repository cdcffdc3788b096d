/**
 * Runs the interactive `ctr ls` on this terminal until q (or Ctrl-C). `l` leaves the view for the
 * container's journal and comes back on Ctrl-C: a follower is an endless stream of long lines, and
 * on the plain terminal it keeps the scrollback, search and copy that a redrawn pane would lose.
 */
import {render, type Instance} from 'ink'
import type {StatusReport} from '../status/types.js'
import {LsApp, type LsExit} from './ls-app.js'
import {failedOutcome, type LsActions, type Outcome} from './view-model.js'

/** Erase the screen and put the cursor at the top left (ED 2, CUP). */
const CLEAR_SCREEN = '\u001B[2J\u001B[H'

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
  let view: Instance | undefined
  let follower: AbortController | undefined
  // One SIGINT handler for the whole session. Ctrl-C while following ends the follower only; the
  // signal can reach node after journalctl's exit, so a handler removed with the follower would let
  // that late SIGINT kill ctr. In the view Ctrl-C is a key (raw mode); a SIGINT from elsewhere quits.
  const onInterrupt = () => (follower ? follower.abort() : view?.unmount())
  process.on('SIGINT', onInterrupt)
  // The terminal reflows the old frame on a resize, so ink's line-by-line erase misses some of it
  // and stale rows stay above the new frame. Wipe the screen first (before ink's own listener runs).
  const onResize = () => view && stdout.write(CLEAR_SCREEN)
  stdout.prependListener('resize', onResize)
  try {
    let resume: {selected?: string; filter?: string; outcome?: Outcome} = {}
    for (;;) {
      let ended: LsExit = {kind: 'quit'}
      view = render(
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
      await view.waitUntilExit()
      view.cleanup()
      view = undefined
      const exit = ended as LsExit
      if (exit.kind === 'quit') return
      // A clean screen for the journal, and again for the view when it comes back: ink leaves its
      // last frame on screen when it exits, and a second view under the first would read as two.
      stdout.write(CLEAR_SCREEN)
      follower = new AbortController()
      const outcome = await followLogs(exit.name, options.actions, stdout, follower.signal)
      // The terminal's Ctrl-C reaches journalctl and ctr together, and journalctl's exit can be seen
      // before ctr's SIGINT handler runs: let that SIGINT land on the follower, not on the view
      // that comes back (which it would quit).
      await abortedOrTimeout(follower.signal, 500)
      follower = undefined
      stdout.write(CLEAR_SCREEN)
      resume = {selected: exit.selected, filter: exit.filter, outcome}
    }
  } finally {
    process.off('SIGINT', onInterrupt)
    stdout.off('resize', onResize)
  }
}

function abortedOrTimeout(signal: AbortSignal, ms: number): Promise<void> {
  if (signal.aborted) return Promise.resolve()
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms)
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), {once: true})
  })
}

/** Follows the journal until SIGNAL fires (Ctrl-C); says how it ended. */
async function followLogs(name: string, actions: LsActions, stdout: NodeJS.WriteStream, signal: AbortSignal): Promise<Outcome> {
  stdout.write(`-- journal of ${name}; Ctrl-C goes back to ctr ls --\n`)
  try {
    await actions.followLogs(name, signal)
    return {kind: 'done', text: `back from the journal of ${name}`}
  } catch (error) {
    if (signal.aborted) return {kind: 'done', text: `back from the journal of ${name}`}
    return failedOutcome('logs', name, error)
  }
}
