import {describe, expect, it} from 'vitest'
import {formatBytes, formatDuration, formatIdle, formatMs, formatState, truncate} from '../../../src/ui/format.js'
import {colorWanted, failedOutcome, moveSelection, scrollWindow, totals} from '../../../src/ui/view-model.js'
import {containers} from './fixtures.js'

describe('formatting', () => {
  it('keeps durations, wake times and sizes short', () => {
    expect([5, 65, 3600 + 300, 86_400 * 3 + 3600 * 4].map(formatDuration)).toEqual(['5s', '1m05s', '1h05m', '3d04h'])
    expect([240, 1250, 12_500, 125_000].map(formatMs)).toEqual(['240ms', '1.25s', '12.5s', '2m05s'])
    expect([512, 2048, 23.4 * 1024 * 1024, 1.5 * 1024 ** 3].map(formatBytes)).toEqual(['512B', '2.0K', '23.4M', '1.5G'])
    expect(truncate('debian-bookworm', 8)).toBe('debian-…')
  })

  it('says why a container is off and how long until an idle one powers off', () => {
    const [web, db, , , idler] = containers
    expect(formatState(idler)).toBe('listening (idle)')
    expect(formatState(web)).toBe('running')
    expect(formatIdle(db)).toBe('4m10s')
    expect(formatIdle(web)).toBe('in use')
    expect(formatIdle(idler)).toBe('-')
  })
})

describe('view model', () => {
  it('turns colour off for a non-empty NO_COLOR only', () => {
    expect(colorWanted({NO_COLOR: '1'})).toBe(false)
    expect(colorWanted({NO_COLOR: ''})).toBe(true)
    expect(colorWanted({})).toBe(true)
  })

  it('moves the selection by name within bounds', () => {
    expect(moveSelection(['a', 'b', 'c'], 'b', 5)).toBe('c')
    expect(moveSelection(['a', 'b', 'c'], 'gone', 1)).toBe('a')
    expect(moveSelection([], 'a', 1)).toBeUndefined()
  })

  it('keeps the selected row inside the window', () => {
    const rows = Array.from({length: 20}, (_, i) => i)
    expect(scrollWindow(rows, 19, 5)).toEqual({rows: [15, 16, 17, 18, 19], first: 15})
    expect(scrollWindow(rows, 0, 5).first).toBe(0)
  })

  it('counts held ports of every container that is not stopped', () => {
    expect(totals(containers)).toMatchObject({containers: 6, running: 2, heldPorts: 5})
  })

  it('shows an error with its hints, one line each', () => {
    const error = Object.assign(new Error('port 22 is in use'), {hints: ['first\nsecond']})
    expect(failedOutcome('start', 'web', error)).toEqual({kind: 'failed', text: 'start web failed: port 22 is in use', hints: ['first', 'second']})
  })
})
