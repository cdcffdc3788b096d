import chalk from 'chalk'
import {render} from 'ink-testing-library'
import {afterEach, describe, expect, it} from 'vitest'
import {LsView, type LsViewProps} from '../../../src/ui/ls-view.js'
import {NOW, containers, report} from './fixtures.js'

function view(overrides: Partial<LsViewProps> = {}) {
  const props: LsViewProps = {report: report(), now: NOW, width: 100, color: false, filter: '', mode: {kind: 'list'}, selected: 'web', ...overrides}
  return render(<LsView {...props} />).lastFrame() ?? ''
}

function lines(frame: string): string[] {
  return frame.split('\n')
}

const ESC = '\u001B['

describe('LsView', () => {
  const level = chalk.level
  afterEach(() => {
    chalk.level = level
  })

  it('shows every state with its figures, the selection and the totals', () => {
    const frame = view()
    expect(lines(frame)[0]).toMatch(/^ {2}NAME\s+DISTRO\s+STATE\s+PORTS\s+CONN\s+WAKES\s+LAST WAKE\s+UP\s+MEM\s+IDLE$/)
    expect(frame).toMatch(/^> web\s+debian 12\s+running\s+\*:2201\/ssh\s+2\s+7\s+3m00s ago\s+3m00s\s+23\.4M\s+in use$/m)
    expect(frame).toMatch(/^ {2}db\s.*running.*1h00m ago\s+1h00m\s+41\.0M\s+4m10s$/m)
    expect(frame).toMatch(/^ {2}idler\s.*listening \(idle\)\s/m)
    // Wider, the wake's duration shows too.
    expect(view({width: 120})).toMatch(/^> web\s.*3m00s ago in 840ms\s+3m00s/m)
    expect(frame).toMatch(/^ {2}cache\s.*booting\s+\*:2203\/ssh\s+1\s+3\s/m)
    expect(frame).toMatch(/^ {2}queue\s.*stopping\s/m)
    expect(frame).toMatch(/^ {2}old\s+fedora 41\s+stopped\s/m)
    expect(frame).toContain('6 containers, 2 running, 5 held ports, 64.4M in use')
    expect(frame).toContain('s start')
    expect(frame).not.toContain('activator down')
  })

  it('says the activator is down when the states come from the store', () => {
    const frame = view({report: report(false)})
    expect(lines(frame)[0]).toMatch(/activator down/)
  })

  it('filters by name and says when nothing matches', () => {
    const frame = view({filter: 'd', mode: {kind: 'filter'}, selected: 'db'})
    expect(frame).toMatch(/^> db\s/m)
    expect(frame).toMatch(/^ {2}old\s/m)
    expect(frame).not.toMatch(/^ {2}web\s/m)
    expect(frame).toContain('/d_')
    expect(view({filter: 'zzz'})).toContain('no container matches "zzz"')
  })

  it('fits 80 and 60 columns', () => {
    for (const width of [80, 60]) {
      const frame = view({width})
      for (const line of lines(frame)) expect(line.length).toBeLessThanOrEqual(width)
      expect(frame).toMatch(/^> web\s+(debian 12\s+)?running\s+\*:2201\/ssh/m)
      expect(frame).toContain('23.4M')
    }
    expect(view({width: 80})).toContain('q quit')
  })

  it('keeps the selected row in sight when the terminal is short', () => {
    const frame = view({height: 8, selected: 'old'})
    expect(lines(frame).length).toBeLessThan(8)
    expect(frame).toMatch(/^> old\s/m)
    expect(frame).not.toMatch(/^ {2}web\s/m)
  })

  it('draws no escape sequence without colour, and colours the states with it', () => {
    chalk.level = 3
    expect(view({color: false, report: report(false)})).not.toContain(ESC)
    expect(view({color: true})).toContain(ESC)
  })

  it('shows an action failing with its error text and hints', () => {
    const frame = view({outcome: {kind: 'failed', text: 'start web failed: port 2201 is taken', hints: ['stop the other program']}})
    expect(frame).toContain('✗ start web failed: port 2201 is taken')
    expect(frame).toContain('  stop the other program')
    expect(view({outcome: {kind: 'done', text: 'web stopped'}})).toContain('✓ web stopped')
  })

  it('asks before removing', () => {
    expect(view({mode: {kind: 'confirm-remove', name: 'web'}})).toContain('remove web and its files? [y/N]')
  })

  it('opens a detail pane with the settings and the last journal lines', () => {
    const details = {settings: [['storage', 'overlay'] as [string, string]], journal: ['line 1', 'line 2', 'Started ssh.service']}
    const frame = view({mode: {kind: 'detail', name: 'web', details}, height: 30})
    expect(frame).toContain('web (debian 12, lean)')
    expect(frame).toMatch(/storage:\s+overlay/)
    expect(frame).toMatch(/pid:\s+4242/)
    expect(frame).toContain('Started ssh.service')
    expect(view({mode: {kind: 'detail', name: 'web', error: 'no journal'}})).toContain('cannot read the details: no journal')
  })

  it('says when there is nothing yet', () => {
    expect(view({report: undefined})).toContain('reading the status')
    expect(view({report: undefined, fetchError: 'only root may talk to the activator'})).toContain('cannot read the status: only root may talk to the activator')
    expect(view({report: report(true, [])})).toContain('no containers')
    expect(containers.length).toBe(6)
  })
})
