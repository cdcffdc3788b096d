/**
 * An open `ctr shell` is activity, as a connection is: a container with a 2 s idle timeout stays
 * up under a shell that runs for 6 s (the real CLI, the real nsenter, a real container), and goes
 * idle once the shell has ended.
 */
import {existsSync, readdirSync} from 'node:fs'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {startActivator, type RunningActivator} from '../../src/activator/server.js'
import {sessionsDir} from '../../src/activator/sessions.js'
import {createContainer} from '../../src/containers/create.js'
import {startContainers} from '../../src/containers/lifecycle.js'
import {getContainerStatus} from '../../src/status/collect.js'
import type {ContainerStatus} from '../../src/status/types.js'
import {ctr} from '../helpers/cli.js'
import {freePort} from '../helpers/ports.js'
import {makeTestRoot, skipReason, tearDown} from '../helpers/roots.js'

const reason = skipReason()
if (reason) console.warn(`test/integration/shell-activity.test.ts: ${reason}`)

describe.skipIf(reason)('ctr shell keeps a container with an idle timeout up (real nspawn, real CLI)', () => {
  let root: string
  let activator: RunningActivator | undefined
  const log: string[] = []
  const port = freePort(31000, 7)
  const status = async (): Promise<ContainerStatus> => (await getContainerStatus(root, 'shelly'))!
  const sessionFiles = () => (existsSync(sessionsDir(root, 'shelly')) ? readdirSync(sessionsDir(root, 'shelly')) : [])

  /** Polls until the container has powered off for being idle; the ms it took. */
  const waitIdleOff = async (limitMs: number): Promise<number> => {
    const from = Date.now()
    let s = await status()
    while (!(s.state === 'listening' && s.lastStopReason === 'idle') && Date.now() - from < limitMs) {
      await sleep(100)
      s = await status()
    }
    expect(s).toMatchObject({state: 'listening', lastStopReason: 'idle'})
    return Date.now() - from
  }

  beforeAll(async () => {
    root = await makeTestRoot()
    await createContainer(root, {distro: 'debian', name: 'shelly', idleTimeoutSec: 2, ports: [{port, service: 'ssh'}]})
    activator = await startActivator({root, log: (m) => log.push(`${new Date().toISOString()} ${m}`), stopTimeoutMs: 20_000, idleCheckMs: 200})
    expect((await startContainers(root, ['shelly'], {now: false})).items[0].error).toBeUndefined()
  })

  afterAll(() => tearDown({activator, root, log}))

  it('stays running for the whole of a 6 s shell, three idle timeouts, and powers off (idle) soon after it ends', async () => {
    expect((await status()).state).toBe('listening')
    const shell = ctr(root, ['shell', 'shelly', '--', 'sleep', '6'])
    let finished = false
    void shell.finally(() => (finished = true))
    const samples: Array<{at: number; state: string}> = []
    while (!finished) {
      samples.push({at: Date.now(), state: (await status()).state})
      await sleep(100)
    }
    const result = await shell
    const endedAt = Date.now()
    expect(result.exitCode, result.stderr).toBe(0)
    // From the first sample that saw it running (the wake boots it) to the end: running throughout.
    const firstRunning = samples.findIndex((s) => s.state === 'running')
    expect(firstRunning).toBeGreaterThanOrEqual(0)
    const during = samples.slice(firstRunning)
    expect(during.filter((s) => s.state !== 'running')).toEqual([])
    expect(during.at(-1)!.at - during[0].at).toBeGreaterThan(5500)
    expect(sessionFiles()).toEqual([])
    // Idle from the shell's end: not before the 2 s timeout (less a check period of slack), and soon.
    await waitIdleOff(15_000)
    const offAfter = Date.now() - endedAt
    expect(offAfter).toBeGreaterThanOrEqual(1500)
    expect(offAfter).toBeLessThan(10_000)
  })

})
