/**
 * A connection still waiting in a socket's accept queue is no session. The kernel lists it as
 * ESTABLISHED in /proc/net/tcp (with inode 0: no process has accepted it), and counting it kept a
 * container that was going idle up for as long as that client waited, while `ctr stop`, `rm` and
 * `shell` queued behind the wait. Here a running container's own socket unit is stopped (as the idle
 * rule does before a poweroff), a client connects and waits, unaccepted: the container must still
 * power off for idleness, and the next boot must then serve that very client.
 */
import {connect} from 'node:net'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {startActivator, type RunningActivator} from '../../src/activator/server.js'
import {createContainer} from '../../src/containers/create.js'
import {startContainers} from '../../src/containers/lifecycle.js'
import {getContainerStatus} from '../../src/status/collect.js'
import type {ContainerStatus} from '../../src/status/types.js'
import {ctr} from '../helpers/cli.js'
import {freePort} from '../helpers/ports.js'
import {makeTestRoot, skipReason, tearDown} from '../helpers/roots.js'

const reason = skipReason()
if (reason) console.warn(`test/integration/idle-queued.test.ts: ${reason}`)

describe.skipIf(reason)('a queued connection is no session (real nspawn, real CLI)', () => {
  let root: string
  let activator: RunningActivator | undefined
  const log: string[] = []
  const port = freePort(29000, 7)
  const status = async (): Promise<ContainerStatus> => (await getContainerStatus(root, 'queued'))!

  beforeAll(async () => {
    root = await makeTestRoot()
    await createContainer(root, {distro: 'debian', name: 'queued', idleTimeoutSec: 2, ports: [{port, service: 'ssh'}]})
    activator = await startActivator({root, log: (m) => log.push(`${new Date().toISOString()} ${m}`), stopTimeoutMs: 20_000, idleCheckMs: 200})
    expect((await startContainers(root, ['queued'], {now: true})).items[0].error).toBeUndefined()
  })

  afterAll(() => tearDown({activator, root, log}))

  it('a container whose socket unit stopped powers off for idleness under a waiting client, then serves it at the next boot', async () => {
    const stopped = await ctr(root, ['shell', 'queued', '--', 'systemctl', 'stop', 'ctr-ssh.socket'])
    expect(stopped.exitCode, stopped.stderr).toBe(0)
    const wakesBefore = (await status()).wakes
    // Nothing in the container accepts now: the client waits in the socket's queue.
    const client = connect(port, '127.0.0.1')
    const banner = new Promise<string>((resolve, reject) => {
      client.once('data', (chunk) => resolve(chunk.toString('latin1')))
      client.once('error', reject)
      client.once('close', () => reject(new Error('closed before the banner')))
    })
    await new Promise((r) => client.once('connect', r))
    // Powered off for idleness (2 s), with the connection still waiting, within 15 s.
    const from = Date.now()
    let s = await status()
    while (s.state === 'running' && Date.now() - from < 15_000) {
      await sleep(100)
      s = await status()
    }
    expect(s.state).not.toBe('running')
    // The queued connection then wakes it, and its banner comes from the next boot.
    const text = await Promise.race([banner, sleep(30_000).then(() => 'no banner within 30 s')])
    client.destroy()
    expect(text.startsWith('SSH-')).toBe(true)
    const after = await status()
    expect(after.lastStopReason).toBe('idle')
    expect(after.wakes).toBe(wakesBefore + 1)
  })
})
