/**
 * `ctr ls` in a real terminal: the built CLI runs under tmux (its own server, on a socket in the
 * test root, so nothing of anyone else's tmux is touched), keys go in with send-keys, and the screen is read with
 * capture-pane while a real Debian container is woken by a real ssh connection.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {startActivator, type RunningActivator} from '../../src/activator/server.js'
import {createContainer} from '../../src/containers/create.js'
import {startContainers} from '../../src/containers/lifecycle.js'
import {CTR} from '../helpers/cli.js'
import {freePort} from '../helpers/ports.js'
import {makeTestRoot, tearDown} from '../helpers/roots.js'
import {makeKeyPair, ssh} from '../helpers/ssh.js'
import {Terminal, terminalSkipReason} from '../helpers/tmux.js'

const reason = terminalSkipReason()
if (reason) console.warn(`test/integration/ls-tmux.test.ts: ${reason}`)

/** Idle timeout of the woken container: long enough for the steps that need it up, short to wait out. */
const IDLE_SEC = 10
const SESSION = 'ctr-ls'

let terminal: Terminal
const tmux = (...args: string[]) => terminal.tmux(...args)
const screen = () => terminal.screen(SESSION)
const waitForScreen = (pattern: RegExp, timeoutMs?: number) => terminal.waitForScreen(SESSION, pattern, timeoutMs)

describe.skipIf(reason)('ctr ls in a real terminal (tmux, real container, real ssh)', () => {
  let root: string
  let keys: Awaited<ReturnType<typeof makeKeyPair>>
  let activator: RunningActivator | undefined
  const port = freePort(29000, 13)

  beforeAll(async () => {
    keys = await makeKeyPair()
    root = await makeTestRoot()
    terminal = new Terminal(root)
    await createContainer(root, {distro: 'debian', name: 'lsweb', sshKeyFiles: [keys.pub], ports: [{port, service: 'ssh'}], idleTimeoutSec: IDLE_SEC})
    await createContainer(root, {distro: 'debian', name: 'lsidle', sshKeyFiles: [keys.pub]})
    activator = await startActivator({root, stopTimeoutMs: 20_000, idleCheckMs: 500})
    const started = await startContainers(root, ['lsweb'], {now: false})
    expect(started.items[0].error).toBeUndefined()
    await terminal.run(SESSION, `${CTR} ls --root ${root}`)
  })

  afterAll(async () => {
    if (terminal) await terminal.close()
    await tearDown({activator, root, keys})
  })

  it('shows the held container listening and the other stopped, with the totals', async () => {
    const {last} = await waitForScreen(/lsweb\s+debian bookworm\s+(?:host\s+)?listening/)
    expect(last).toMatch(new RegExp(`lsweb\\s+debian bookworm\\s+(?:host\\s+)?listening\\s+\\*:${port}/ssh\\s+0\\s+0\\s`))
    expect(last).toMatch(/lsidle\s+debian bookworm\s+(?:host\s+)?stopped/)
    expect(last).toContain('2 containers, 0 running, 1 held port')
    expect(last).not.toContain('activator down')
  })

  it('follows a real ssh connection waking the container, with the connection and the wake counted', async () => {
    const session = ssh(keys.key, port, 'sleep 6; echo done')
    const woke = await waitForScreen(new RegExp(`lsweb\\s.*running\\s+\\*:${port}/ssh\\s+1\\s+1\\s`), 90_000)
    // The lean profile accepts in a few hundred ms, less than one refresh: "booting" may not be caught.
    expect(woke.seen[0]).toMatch(/lsweb\s.*listening/)
    expect(woke.last).toMatch(/lsweb\s.*ago in \d+(ms|\.\d+s)/)
    expect(woke.last).toContain('1 running')
    expect(woke.last).toMatch(/lsweb\s.*\d+(\.\d)?M\s/)
    expect((await session).stdout).toBe('done')
    await waitForScreen(new RegExp(`lsweb\\s.*running\\s+\\*:${port}/ssh\\s+0\\s+1\\s`), 30_000)
  })

  it('counts down the idle timeout once the session ends, then shows it powered off for idleness', async () => {
    const counting = await waitForScreen(/lsweb\s.*running.*\s\d+s\n/, 15_000)
    expect(counting.last).toMatch(/lsweb\s.*running.*\s(10|[1-9])s\n/)
    const {last} = await waitForScreen(/lsweb\s.*listening \(idle\)/, 30_000)
    expect(last).toContain('0 running, 1 held port')
  })

  it('fits the terminal when it narrows to 80 columns', async () => {
    await tmux('resize-window', '-t', SESSION, '-x', '80', '-y', '30')
    const {last} = await waitForScreen(/^ {2}NAME\s+(DISTRO\s+)?STATE\s+PORTS(?![\s\S]*WAKES)/m, 10_000)
    for (const line of last.split('\n')) expect(line.length).toBeLessThanOrEqual(80)
    // The 100-column frame is gone, not left wrapped above the new one.
    expect(last.match(/NAME/g)).toHaveLength(1)
    expect(last).toMatch(new RegExp(`lsweb\\s.*listening( \\(idle\\))?\\s+\\*:${port}/ssh`))
    expect(last).toContain('q quit')
  })

  it('filters by name as it is typed', async () => {
    await tmux('send-keys', '-t', SESSION, '-l', '/lsw')
    await waitForScreen(/\/lsw_/)
    expect(await screen()).not.toMatch(/lsidle\s/)
    await tmux('send-keys', '-t', SESSION, 'Enter')
    const {last} = await waitForScreen(/filter: lsw/)
    expect(last).toMatch(/^> lsweb/m)
  })

  it('opens the detail pane with the journal of the boot, and closes it', async () => {
    await tmux('send-keys', '-t', SESSION, 'Enter')
    const {last} = await waitForScreen(/journal\s*│[\s\S]*(Started|Reached|systemd)/, 20_000)
    expect(last).toMatch(/lsweb \(debian bookworm, \w+\)/)
    expect(last).toMatch(/storage:\s+overlay/)
    await tmux('send-keys', '-t', SESSION, 'Escape')
    await waitForScreen(/^(?![\s\S]*storage:)[\s\S]*q quit/)
  })

  it('follows the logs with l and comes back on Ctrl-C', async () => {
    await tmux('send-keys', '-t', SESSION, 'l')
    // The journal scrolls the header away: wait for its lines, with the view gone.
    await waitForScreen(/^(?![\s\S]*q quit)[\s\S]*lsweb (systemd|sshd)\[\d+\]:/, 20_000)
    await tmux('send-keys', '-t', SESSION, 'C-c')
    const {last} = await waitForScreen(/✓ back from the journal of lsweb[\s\S]*q quit/, 20_000)
    expect(last).not.toContain('-- journal of')
    expect(last).toMatch(/^> lsweb/m)
  })

  it('boots the sleeping container with s', async () => {
    await tmux('send-keys', '-t', SESSION, 's')
    await waitForScreen(/✓ lsweb booted/, 60_000)
    await waitForScreen(/lsweb\s.*running/, 10_000)
  })

  it('stops the container with x and reports the outcome', async () => {
    await tmux('send-keys', '-t', SESSION, 'x')
    const {last} = await waitForScreen(/✓ lsweb stopped/, 60_000)
    expect(last).not.toContain('✗')
    await waitForScreen(/lsweb\s+debian bookworm\s+(?:host\s+)?stopped/, 10_000)
  })

  it('shows a failing action in the view and keeps running', async () => {
    await tmux('send-keys', '-t', SESSION, 'x')
    await waitForScreen(/✗ stop lsweb failed: .*not started/, 20_000)
  })

  it('restarts a stopped container with r: booted at once', async () => {
    await tmux('send-keys', '-t', SESSION, 'r')
    await waitForScreen(/✓ lsweb restarted/, 60_000)
    await waitForScreen(/lsweb\s.*running/, 10_000)
    await tmux('send-keys', '-t', SESSION, 'x')
    await waitForScreen(/lsweb\s+debian bookworm\s+(?:host\s+)?stopped/, 60_000)
  })

  it('removes a container with d after asking', async () => {
    await tmux('send-keys', '-t', SESSION, 'Escape')
    await waitForScreen(/^ {2}lsidle\s+debian bookworm\s+(?:host\s+)?stopped/m, 10_000)
    await tmux('send-keys', '-t', SESSION, 'k', 'd')
    await waitForScreen(/remove lsidle and its files\? \[y\/N\]/, 10_000)
    await tmux('send-keys', '-t', SESSION, 'y')
    const {last} = await waitForScreen(/✓ lsidle removed/, 30_000)
    await waitForScreen(/^(?![\s\S]*lsidle\s+debian)[\s\S]*1 container,/, 10_000)
    expect(last).not.toContain('✗')
  })

  it('quits on q', async () => {
    await tmux('send-keys', '-t', SESSION, 'q')
    const status = await terminal.exitStatus(SESSION)
    expect(status, `ctr ls did not exit on q; the screen shows:\n${await screen()}`).toBe(0)
  })
})
