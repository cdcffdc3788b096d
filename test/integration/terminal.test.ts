/**
 * The interactive commands in a real terminal (tmux): `ctr shell` waking a sleeping container and
 * giving a login shell inside, and `ctr logs -f` following the container's journal as new entries
 * are written, until Ctrl-C.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {startActivator, type RunningActivator} from '../../src/activator/server.js'
import {createContainer} from '../../src/containers/create.js'
import {startContainers} from '../../src/containers/lifecycle.js'
import {getContainerStatus} from '../../src/status/collect.js'
import {CTR, ctr} from '../helpers/cli.js'
import {freePort} from '../helpers/ports.js'
import {makeTestRoot, tearDown} from '../helpers/roots.js'
import {Terminal, terminalSkipReason} from '../helpers/tmux.js'

const reason = terminalSkipReason()
if (reason) console.warn(`test/integration/terminal.test.ts: ${reason}`)

describe.skipIf(reason)('ctr shell and ctr logs -f in a real terminal (tmux, real container)', () => {
  let root: string
  let terminal: Terminal
  let activator: RunningActivator | undefined
  const port = freePort(24000, 11)

  beforeAll(async () => {
    root = await makeTestRoot()
    terminal = new Terminal(root)
    await createContainer(root, {distro: 'debian', name: 'term', ports: [{port, service: 'ssh'}]})
    activator = await startActivator({root, stopTimeoutMs: 20_000})
    const started = await startContainers(root, ['term'], {now: false})
    expect(started.items[0].error).toBeUndefined()
  })

  afterAll(async () => {
    if (terminal) await terminal.close()
    await tearDown({activator, root})
  })

  it('ctr shell wakes the sleeping container and gives a root login shell inside; exit passes its status on', async () => {
    expect((await getContainerStatus(root, 'term'))?.state).toBe('listening')
    await terminal.run('shell', `${CTR} shell term --root ${root}`)
    await terminal.waitForScreen('shell', /root@term:~#\s*$/m, 60_000)
    expect((await getContainerStatus(root, 'term'))?.state).toBe('running')
    // An arithmetic marker: the typed line echoes "6*7", only the shell's output says 42.
    await terminal.type('shell', 'echo "pid1=$(cat /proc/1/comm) in=$(hostname) n=$((6*7))"')
    await terminal.keys('shell', 'Enter')
    const {last} = await terminal.waitForScreen('shell', /^pid1=systemd in=term n=42$/m, 10_000)
    expect(last).toMatch(/root@term:~#\s*$/m)
    await terminal.type('shell', 'exit 3')
    await terminal.keys('shell', 'Enter')
    expect(await terminal.exitStatus('shell')).toBe(3)
  })

  it('ctr logs -f prints the journal, then each new entry as it is written, until Ctrl-C', async () => {
    await terminal.run('logs', `${CTR} logs term -f -n 5 --root ${root}`)
    await terminal.waitForScreen('logs', /term \S+\[\d+\]:/, 20_000)
    // A new entry, written inside the running container by logger(1).
    const marker = `ctr-follow-${process.pid}`
    const logger = await ctr(root, ['shell', 'term', '--', 'logger', '-t', 'ctrtest', marker])
    expect(logger.stderr).toBe('')
    expect(logger.exitCode).toBe(0)
    await terminal.waitForScreen('logs', new RegExp(`ctrtest\\[\\d+\\]: ${marker}$`, 'm'), 20_000)
    await terminal.keys('logs', 'C-c')
    expect(await terminal.exitStatus('logs')).toBe(0)
  })
})
