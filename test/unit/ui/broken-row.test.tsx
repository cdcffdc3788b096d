/** A container whose record is damaged, as the interactive ls shows it: one red row, the others as usual. */
import chalk from 'chalk'
import {render} from 'ink-testing-library'
import {afterEach, describe, expect, it} from 'vitest'
import {storeStatus} from '../../../src/status/collect.js'
import type {StatusReport} from '../../../src/status/types.js'
import {listingRecord} from '../../../src/store/containers.js'
import {LsView} from '../../../src/ui/ls-view.js'
import {NOW, containers} from './fixtures.js'

const broken = storeStatus(listingRecord({name: 'mid', damaged: 'invalid JSON: Unexpected end of JSON input'}))
const report = (): StatusReport => ({live: true, containers: [...containers.slice(0, 2), broken, ...containers.slice(2)]})

describe('a broken container in the ls view', () => {
  const level = chalk.level
  afterEach(() => {
    chalk.level = level
  })

  it('is a row with the reason where it fits, "broken" where it does not, and counts for nothing', () => {
    const wide = render(<LsView report={report()} now={NOW} width={160} color={false} filter="" mode={{kind: 'list'}} selected="web" />).lastFrame() ?? ''
    expect(wide).toMatch(/^ {2}mid\s+host\s+broken \(invalid JSON: Unexpected end of JSON input\)\s+-\s+0/m)
    expect(wide).toMatch(/^> web\s+debian 12\s+private\s+running/m)
    const narrow = render(<LsView report={report()} now={NOW} width={70} color={false} filter="" mode={{kind: 'list'}} selected="web" />).lastFrame() ?? ''
    expect(narrow).toMatch(/^ {2}mid\s+broken\s+-/m)
    expect(narrow).toContain('7 containers, 2 running, 5 held ports')
  })

  it('is red when colour is on', () => {
    chalk.level = 1
    const frame = render(<LsView report={report()} now={NOW} width={160} color={true} filter="" mode={{kind: 'list'}} selected="web" />).lastFrame() ?? ''
    const row = frame.split('\n').find((l) => l.includes('mid'))!
    expect(row).toContain('\u001B[31mbroken (invalid JSON')
  })
})
