import {render} from 'ink-testing-library'
import {describe, expect, it, vi} from 'vitest'
import {CtrError} from '../../../src/errors.js'
import type {StatusReport} from '../../../src/status/types.js'
import {LsApp, type LsExit} from '../../../src/ui/ls-app.js'
import type {LsActions} from '../../../src/ui/view-model.js'
import {NOW, containers, report} from './fixtures.js'

const DOWN = '\u001B[B'
const UP = '\u001B[A'
const ENTER = '\r'
const ESC = '\u001B'

function fakeActions(overrides: Partial<LsActions> = {}): LsActions {
  return {
    start: vi.fn(async () => undefined),
    stop: vi.fn(async () => undefined),
    restart: vi.fn(async () => undefined),
    remove: vi.fn(async () => undefined),
    details: vi.fn(async () => ({settings: [['storage', 'overlay']], journal: ['Started ssh.socket']})),
    followLogs: vi.fn(async () => undefined),
    ...overrides,
  } as LsActions
}

function app(options: {fetchStatus?: () => Promise<StatusReport>; actions?: LsActions} = {}) {
  const exits: LsExit[] = []
  const actions = options.actions ?? fakeActions()
  const instance = render(
    <LsApp
      fetchStatus={options.fetchStatus ?? (async () => report())}
      actions={actions}
      color={false}
      onExit={(e) => exits.push(e)}
      clock={() => NOW}
      refreshMs={40}
      width={100}
      height={30}
    />,
  )
  const frame = () => instance.lastFrame() ?? ''
  const until = async (check: (frame: string) => boolean, what: string) => {
    for (let i = 0; i < 100; i++) {
      if (check(frame())) return
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    throw new Error(`never saw ${what}; last frame:\n${frame()}`)
  }
  const press = async (...keys: string[]) => {
    for (const key of keys) {
      instance.stdin.write(key)
      await new Promise((resolve) => setTimeout(resolve, 30))
    }
  }
  return {instance, actions, exits, frame, until, press}
}

const selectedRow = (frame: string) => frame.split('\n').find((line) => line.startsWith('> '))?.split(/\s+/)[1]

describe('LsApp', () => {
  it('moves the selection with j/k and the arrows', async () => {
    const {frame, until, press, instance} = app()
    const selects = (name: string) => until((f) => selectedRow(f) === name, `${name} selected`)
    await until((f) => f.includes('web'), 'the rows')
    expect(selectedRow(frame())).toBe('web')
    await press('j', 'j')
    await selects('cache')
    await press(UP)
    await selects('db')
    await press(DOWN, DOWN, DOWN, DOWN, DOWN, 'j')
    await selects('old')
    await press('k')
    await selects('idler')
    instance.unmount()
  })

  it('sees each key in order when keys come faster than renders (a paste, tmux send-keys)', async () => {
    const {actions, frame, until, instance} = app()
    await until((f) => f.includes('web'), 'the rows')
    for (const key of ['j', 'j', 'd', 'y']) instance.stdin.write(key)
    await until((f) => f.includes('✓ cache removed'), 'removed')
    expect(actions.remove).toHaveBeenCalledWith('cache')
    expect(frame()).not.toContain('[y/N]')
    // One write of several keys, as tmux send-keys and a paste deliver them.
    instance.stdin.write('/id\r')
    await until((f) => f.includes('filter: id'), 'the filter kept')
    expect(frame()).toMatch(/^> idler/m)
    instance.unmount()
  })

  it('follows live changes at every refresh', async () => {
    let state: 'booting' | 'running' = 'booting'
    const {until, instance} = app({fetchStatus: async () => report(true, [{...containers[2], state}])})
    await until((f) => /cache\s.*booting/.test(f), 'booting')
    state = 'running'
    await until((f) => /cache\s.*running/.test(f), 'running')
    instance.unmount()
  })

  it('keeps the last rows and says so when a refresh fails', async () => {
    let fail = false
    const {until, frame, instance} = app({
      fetchStatus: async () => {
        if (fail) throw new Error('activator socket closed')
        return report()
      },
    })
    await until((f) => f.includes('web'), 'the rows')
    fail = true
    await until((f) => f.includes('cannot read the status: activator socket closed'), 'the error')
    expect(frame()).toMatch(/^> web/m)
    instance.unmount()
  })

  it('starts, stops and restarts the selected container and reports each outcome', async () => {
    const {actions, until, press, instance} = app()
    await until((f) => f.includes('web'), 'the rows')
    await press('j', 's')
    await until((f) => f.includes('✓ db started'), 'start outcome')
    expect(actions.start).toHaveBeenCalledWith('db')
    await press('x')
    await until((f) => f.includes('✓ db stopped'), 'stop outcome')
    await press('r')
    await until((f) => f.includes('✓ db restarted'), 'restart outcome')
    expect(actions.stop).toHaveBeenCalledWith('db')
    expect(actions.restart).toHaveBeenCalledWith('db')
    instance.unmount()
  })

  it('shows a failing action with its error and hints, and keeps working', async () => {
    const actions = fakeActions({
      start: vi.fn(async () => {
        throw new CtrError('PORT_BUSY', 'port 2201 is in use by another program', {hints: ['ss -ltnp sport = 2201 shows which']})
      }),
    })
    const {until, press, frame, instance} = app({actions})
    await until((f) => f.includes('web'), 'the rows')
    await press('s')
    await until((f) => f.includes('✗ start web failed: port 2201 is in use by another program'), 'the failure')
    expect(frame()).toContain('ss -ltnp sport = 2201 shows which')
    await press('j')
    await until((f) => selectedRow(f) === 'db', 'db selected')
    instance.unmount()
  })

  it('asks before removing, and removes only on y', async () => {
    const {actions, until, press, frame, instance} = app()
    await until((f) => f.includes('web'), 'the rows')
    await press('d')
    await until((f) => f.includes('remove web and its files? [y/N]'), 'the question')
    await press('n')
    await until((f) => f.includes('kept web'), 'kept')
    expect(actions.remove).not.toHaveBeenCalled()
    await press('d', 'y')
    await until((f) => f.includes('✓ web removed'), 'removed')
    expect(actions.remove).toHaveBeenCalledWith('web')
    instance.unmount()
  })

  it('filters by name as it is typed', async () => {
    const {until, press, frame, instance} = app()
    await until((f) => f.includes('web'), 'the rows')
    await press('/', 'q', 'u')
    await until((f) => f.includes('/qu_') && /^> queue/m.test(f), 'the filter typed')
    expect(frame()).not.toMatch(/^ {2}web/m)
    await press(ENTER)
    await until((f) => f.includes('filter: qu'), 'the filter kept')
    await press(ESC)
    await until((f) => /^ {2}db/m.test(f), "all rows again")
    expect(frame()).not.toContain('filter:')
    instance.unmount()
  })

  it('opens the detail pane on Enter and closes it on Esc', async () => {
    const {actions, until, press, frame, instance} = app()
    await until((f) => f.includes('web'), 'the rows')
    await press(ENTER)
    await until((f) => f.includes('Started ssh.socket'), 'the journal')
    expect(frame()).toMatch(/storage:\s+overlay/)
    expect(actions.details).toHaveBeenCalledWith('web')
    await press(ESC)
    await until((f) => !f.includes('Started ssh.socket'), 'the pane closed')
    instance.unmount()
  })

  it('closes the detail pane of a container removed elsewhere', async () => {
    let list = containers
    const {until, press, instance} = app({fetchStatus: async () => report(true, list)})
    await until((f) => f.includes('web'), 'the rows')
    await press(ENTER)
    await until((f) => f.includes('Started ssh.socket'), 'the pane')
    list = containers.slice(1)
    await until((f) => !f.includes('Started ssh.socket') && /^> db/m.test(f), 'the pane closed, db selected')
    instance.unmount()
  })

  it('leaves for the logs with l and quits with q', async () => {
    const first = app()
    await first.until((f) => f.includes('web'), 'the rows')
    await first.press('j', 'l')
    expect(first.exits).toEqual([{kind: 'logs', name: 'db', selected: 'db', filter: ''}])
    const second = app()
    await second.until((f) => f.includes('web'), 'the rows')
    await second.press('q')
    expect(second.exits).toEqual([{kind: 'quit'}])
  })
})
