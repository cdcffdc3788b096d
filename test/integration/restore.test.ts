/**
 * A container that cannot be held again when an activator restores (its port taken meanwhile by
 * another program, and no socket holder kept it) is not dropped: it stays in held.json, `ctr ls`
 * shows it with the reason, and it is held as soon as the port is free again. No container boots
 * here, so the records need no tree.
 */
import {readFile} from 'node:fs/promises'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {callActivator} from '../../src/activator/client.js'
import {heldFile} from '../../src/activator/held-file.js'
import {startActivator, type RunningActivator} from '../../src/activator/server.js'
import {writeContainer} from '../../src/store/containers.js'
import {canBind, closeFd, listenTcp} from '../../src/sys/socket.js'
import {freePort} from '../helpers/ports.js'
import {makeTestRoot, skipReason, tearDown} from '../helpers/roots.js'

const reason = skipReason()
if (reason) console.warn(`test/integration/restore.test.ts: ${reason}`)

describe.skipIf(reason)('restore: a container whose port is taken is retried, kept and shown', () => {
  let root: string
  let activator: RunningActivator | undefined
  let squatter: number | undefined
  const log: string[] = []
  const port = freePort(27000, 11)

  beforeAll(async () => {
    root = await makeTestRoot()
    await writeContainer(root, {name: 'kept', distro: 'debian', release: 'bookworm', image: 'none', storage: 'copy', profile: 'lean', createdAt: new Date().toISOString(), idleTimeoutSec: 0, ports: [{port, service: 'ssh'}]})
    const first = await startActivator({root, log: (m) => log.push(m)})
    await callActivator(root, {op: 'start', name: 'kept', now: false})
    // An orderly stop: the ports are let go (holder included) but stay recorded as held.
    await first.close()
  })

  afterAll(async () => {
    if (squatter !== undefined) closeFd(squatter)
    await tearDown({activator, root, log})
  })

  it('is listed with the reason while the port is taken, stays in held.json, and is held once it is free', async () => {
    squatter = listenTcp(port)
    activator = await startActivator({root, log: (m) => log.push(m)})
    await activator.activator.ready
    const during = (await callActivator(root, {op: 'status'})).containers.find((c) => c.name === 'kept')!
    expect(during.state).toBe('stopped')
    expect(during.lastError).toMatch(new RegExp(`^not held yet, retrying: port ${port} of kept is taken by another program`))
    expect(JSON.parse(await readFile(heldFile(root), 'utf8')).containers).toContain('kept')

    closeFd(squatter)
    squatter = undefined
    const deadline = Date.now() + 10_000
    let after = during
    while (Date.now() < deadline && after.state !== 'listening') {
      await sleep(100)
      after = (await callActivator(root, {op: 'status'})).containers.find((c) => c.name === 'kept')!
    }
    expect(after.state).toBe('listening')
    expect(after.lastError).toBeUndefined()
    expect(canBind(port).ok).toBe(false)
  })
})
