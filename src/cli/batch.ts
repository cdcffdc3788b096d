/**
 * How the batch verbs (start, stop, rm) show the items that failed: one `ctr: MESSAGE` line each,
 * with its hints, on stderr; under --json nothing there, since the report printed on stdout
 * carries every item's error once.
 */
import {namedMessage} from '../containers/lifecycle.js'

export interface ItemError {
  message: string
  hints: string[]
}

/** The lines for the failed item NAME: its message names it once, whatever the engine said. */
export function itemErrorText(name: string, error: ItemError): string {
  const hints = error.hints.map((hint) => `  ${hint.replaceAll('\n', '\n  ')}\n`).join('')
  return `ctr: ${namedMessage(name, error.message)}\n${hints}`
}

export function printItemError(name: string, error: ItemError, json: boolean): void {
  if (!json) process.stderr.write(itemErrorText(name, error))
}
