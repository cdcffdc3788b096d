import {describe, expect, it} from 'vitest'
import {keyCommand, splitKeys} from '../../../src/ui/keys.js'

describe('keyCommand', () => {
  const list = {kind: 'list'} as const
  it('maps the list keys', () => {
    expect(keyCommand(list, 'j', {})).toEqual({type: 'move', delta: 1})
    expect(keyCommand(list, '', {upArrow: true})).toEqual({type: 'move', delta: -1})
    expect(keyCommand(list, '', {return: true})).toEqual({type: 'open-detail'})
    expect(keyCommand(list, 'x', {})).toEqual({type: 'action', action: 'stop'})
    expect(keyCommand(list, 'd', {})).toEqual({type: 'ask-remove'})
    expect(keyCommand(list, '/', {})).toEqual({type: 'filter-start'})
    expect(keyCommand(list, 'z', {})).toBeUndefined()
  })

  it('treats letters as text while filtering, and anything but y as no when asked', () => {
    expect(keyCommand({kind: 'filter'}, 'j', {})).toEqual({type: 'filter-type', text: 'j'})
    expect(keyCommand({kind: 'filter'}, '', {backspace: true})).toEqual({type: 'filter-erase'})
    expect(keyCommand({kind: 'confirm-remove', name: 'web'}, 'y', {})).toEqual({type: 'remove'})
    expect(keyCommand({kind: 'confirm-remove', name: 'web'}, 'q', {})).toEqual({type: 'keep'})
  })

  it('acts on the shown container from the detail pane', () => {
    expect(keyCommand({kind: 'detail', name: 'web'}, 'r', {})).toEqual({type: 'action', action: 'restart'})
    expect(keyCommand({kind: 'detail', name: 'web'}, '', {escape: true})).toEqual({type: 'close-detail'})
  })
})

describe('splitKeys', () => {
  it('splits a burst of characters into keys', () => {
    expect(splitKeys('/wj\r', {})).toEqual([['/', {}], ['w', {}], ['j', {}], ['', {return: true}]])
    expect(splitKeys('', {escape: true})).toEqual([['', {escape: true}]])
    expect(splitKeys('j', {})).toEqual([['j', {}]])
  })
})
