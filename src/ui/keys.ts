/**
 * What a key press means in each mode of the view, as a pure function: LsApp runs the command, the
 * tests check the mapping without a terminal. The key shape is ink's (useInput's `key`), narrowed.
 */
import type {ViewMode} from './view-model.js'

export interface KeyInfo {
  upArrow?: boolean
  downArrow?: boolean
  leftArrow?: boolean
  pageUp?: boolean
  pageDown?: boolean
  return?: boolean
  escape?: boolean
  ctrl?: boolean
  meta?: boolean
  backspace?: boolean
  delete?: boolean
}

export type KeyCommand =
  | {type: 'move'; delta: number}
  | {type: 'open-detail'}
  | {type: 'close-detail'}
  | {type: 'action'; action: 'start' | 'stop' | 'restart'}
  | {type: 'ask-remove'}
  | {type: 'remove'}
  | {type: 'keep'}
  | {type: 'logs'}
  | {type: 'filter-start'}
  | {type: 'filter-type'; text: string}
  | {type: 'filter-erase'}
  | {type: 'filter-accept'}
  | {type: 'filter-clear'}
  | {type: 'quit'}

const PAGE = 10

export function keyCommand(mode: ViewMode, input: string, key: KeyInfo): KeyCommand | undefined {
  const move = moveCommand(input, key, mode.kind !== 'filter')
  switch (mode.kind) {
    case 'confirm-remove':
      return input === 'y' || input === 'Y' ? {type: 'remove'} : {type: 'keep'}
    case 'filter':
      if (move) return move
      if (key.return) return {type: 'filter-accept'}
      if (key.escape) return {type: 'filter-clear'}
      if (key.backspace || key.delete) return {type: 'filter-erase'}
      if (input && !key.ctrl && !key.meta && isPrintable(input)) return {type: 'filter-type', text: input}
      return undefined
    case 'detail':
      if (key.escape || key.return || key.leftArrow) return {type: 'close-detail'}
      return commonCommand(input)
    case 'list':
      if (move) return move
      if (key.return) return {type: 'open-detail'}
      if (key.escape) return {type: 'filter-clear'}
      if (input === '/') return {type: 'filter-start'}
      return commonCommand(input)
  }
}

/** Keys that act on the selected container, the same in the list and in its detail pane. */
function commonCommand(input: string): KeyCommand | undefined {
  switch (input) {
    case 's':
      return {type: 'action', action: 'start'}
    case 'x':
      return {type: 'action', action: 'stop'}
    case 'r':
      return {type: 'action', action: 'restart'}
    case 'd':
      return {type: 'ask-remove'}
    case 'l':
      return {type: 'logs'}
    case 'q':
      return {type: 'quit'}
    default:
      return undefined
  }
}

/** Arrows and page keys always move; j and k only where they are not text being typed. */
function moveCommand(input: string, key: KeyInfo, letters: boolean): KeyCommand | undefined {
  if (key.upArrow || (letters && input === 'k')) return {type: 'move', delta: -1}
  if (key.downArrow || (letters && input === 'j')) return {type: 'move', delta: 1}
  if (key.pageUp) return {type: 'move', delta: -PAGE}
  if (key.pageDown) return {type: 'move', delta: PAGE}
  return undefined
}

function isPrintable(input: string): boolean {
  // eslint-disable-next-line no-control-regex
  return !/[\u0000-\u001F\u007F]/.test(input)
}

/**
 * ink hands over a burst of plain characters as one input ("/wj\r" from a paste or tmux
 * send-keys); split it into the keys it was, so each one acts. Escape sequences arrive split already.
 */
export function splitKeys(input: string, key: KeyInfo): Array<[string, KeyInfo]> {
  const special = Object.values(key).some(Boolean)
  if (input.length <= 1 || special) return [[input, key]]
  return [...input].map((ch): [string, KeyInfo] => {
    if (ch === '\r' || ch === '\n') return ['', {return: true}]
    if (ch === '\u007F' || ch === '\b') return ['', {backspace: true}]
    if (ch === '\u001B') return ['', {escape: true}]
    return [ch, {}]
  })
}
