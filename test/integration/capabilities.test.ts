/**
 * Nothing from a container's tree runs with more than the container's own capabilities. Root inside
 * replaces the programs ctr would run there (systemctl for the quiet and idle rules, env, which
 * `ctr shell` used to run) with scripts that record their CapEff; then every ctr operation that
 * enters the container is done, for real, and each recorded set must lie within the bounding set of
 * the container's PID 1.
 */
import {chmod, readFile, rename, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {capabilityBoundingSet} from '../../src/activator/proc.js'
import {startActivator, type RunningActivator} from '../../src/activator/server.js'
import {createContainer} from '../../src/containers/create.js'
import {startContainers} from '../../src/containers/lifecycle.js'
import {wakeContainer} from '../../src/containers/shell.js'
import {getStatus} from '../../src/status/collect.js'
import {containerPaths} from '../../src/store/paths.js'
import {ctr} from '../helpers/cli.js'
import {freePort} from '../helpers/ports.js'
import {makeTestRoot, skipReason, tearDown} from '../helpers/roots.js'

const reason = skipReason()
if (reason) console.warn(`test/integration/capabilities.test.ts: ${reason}`)

/** A script in place of PROGRAM that records who ran it with which CapEff, then runs the real one. */
async function recordCaps(tree: string, program: string): Promise<void> {
  const real = `${program}.ctr-real`
  await rename(join(tree, program), join(tree, real))
  const script = `#!/bin/sh\nprintf '%s %s\\n' "${program}" "$(grep '^CapEff' /proc/self/status | cut -f2)" >> /var/log/ctr-caps.log\nexec ${real} "$@"\n`
  await writeFile(join(tree, program), script)
  await chmod(join(tree, program), 0o755)
}

describe.skipIf(reason)('capabilities of what ctr runs inside a container (real nspawn)', () => {
  let root: string
  let activator: RunningActivator | undefined
  const log: string[] = []
  const name = 'capped'

  beforeAll(async () => {
    root = await makeTestRoot()
    await createContainer(root, {distro: 'debian', name, sshKeyFiles: [], idleTimeoutSec: 4, ports: [{port: freePort(31000), service: 'ssh'}]})
    const tree = containerPaths(root, name).rootfs
    await recordCaps(tree, '/usr/bin/systemctl')
    await recordCaps(tree, '/usr/bin/env')
    activator = await startActivator({root, log: (m) => log.push(`${new Date().toISOString()} ${m}`), idleCheckMs: 200, quietMs: 1000})
    expect((await startContainers(root, [name], {now: true})).items[0].error).toBeUndefined()
  })

  afterAll(() => tearDown({activator, root, log}))

  it('the shell, the quiet rule and the idle rule run nothing with more than the container\'s bounding set', async () => {
    const leader = await wakeContainer(root, name)
    const bounding = capabilityBoundingSet(leader)!
    // nspawn's default set: no CAP_SYS_MODULE (16), CAP_SYS_RAWIO (17), CAP_SYS_TIME (25).
    expect(bounding & (1n << 16n)).toBe(0n)

    const shell = await ctr(root, ['shell', name, '--', '/usr/bin/env'])
    expect(shell.exitCode).toBe(0)
    const own = await ctr(root, ['shell', name, '--', 'grep', '-E', '^Cap(Eff|Bnd)', '/proc/self/status'])
    expect(own.exitCode).toBe(0)
    for (const line of own.stdout.split('\n')) expect(BigInt(`0x${line.split(/\s+/)[1]}`) & ~bounding).toBe(0n)

    // The quiet rule (journald stopped after 1 s without a connection), then the idle poweroff (4 s).
    const deadline = Date.now() + 60_000
    while (!log.some((l) => l.includes('idle for')) && Date.now() < deadline) await sleep(200)
    while ((await getStatus(root)).containers[0].state !== 'listening' && Date.now() < deadline) await sleep(200)
    expect(log.some((l) => l.includes('quiet, stopped'))).toBe(true)
    expect(log.some((l) => l.includes(`${name}: idle for`))).toBe(true)
    expect(log.filter((l) => l.includes('could not'))).toEqual([])

    const recorded = (await readFile(join(containerPaths(root, name).rootfs, 'var/log/ctr-caps.log'), 'utf8')).trim().split('\n')
    const programs = new Set(recorded.map((l) => l.split(' ')[0]))
    expect(programs).toEqual(new Set(['/usr/bin/systemctl', '/usr/bin/env']))
    // The container's own boot may run systemctl too; none, ctr's or not, has more than the set.
    for (const line of recorded) expect({line, extra: BigInt(`0x${line.split(' ')[1]}`) & ~bounding}).toEqual({line, extra: 0n})
  })
})
