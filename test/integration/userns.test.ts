/**
 * --private-users (real nspawn, real OpenSSH through the activator): root inside is an
 * unprivileged UID range on the host, each container its own range, and the tree is seen through
 * an idmapped mount: nothing on disk is chowned. `ctr shell`, `ctr logs` and the idle rule (which
 * runs systemctl inside) work as they do without a user namespace. Only --copy containers: this
 * kernel cannot idmap an overlay mount, so an overlay container asking for it is refused.
 */
import {readFileSync, statSync} from 'node:fs'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {startActivator, type RunningActivator} from '../../src/activator/server.js'
import {createContainer} from '../../src/containers/create.js'
import {startContainers} from '../../src/containers/lifecycle.js'
import {wakeContainer} from '../../src/containers/shell.js'
import {getContainerStatus} from '../../src/status/collect.js'
import {getContainer, readContainer} from '../../src/store/containers.js'
import {containerPaths, imagePaths} from '../../src/store/paths.js'
import {ctr} from '../helpers/cli.js'
import {freePorts} from '../helpers/ports.js'
import {makeTestRoot, skipReason, tearDown} from '../helpers/roots.js'
import {makeKeyPair, ssh} from '../helpers/ssh.js'

const reason = skipReason()
if (reason) console.warn(`test/integration/userns.test.ts: ${reason}`)

/** The first line of /proc/PID/uid_map: inside, host, count. */
function uidMap(pid: number): {inside: number; host: number; count: number} {
  const [inside, host, count] = readFileSync(`/proc/${pid}/uid_map`, 'utf8').trim().split('\n')[0].trim().split(/\s+/).map(Number)
  return {inside, host, count}
}

/** The real UID of PID, as the host sees it. */
function hostUid(pid: number): number {
  const line = readFileSync(`/proc/${pid}/status`, 'utf8').split('\n').find((l) => l.startsWith('Uid:'))!
  return Number(line.split(/\s+/)[1])
}

describe.skipIf(reason)('containers with user IDs of their own (real nspawn, real ssh)', () => {
  let root: string
  let activator: RunningActivator | undefined
  let keys: Awaited<ReturnType<typeof makeKeyPair>>
  const log: string[] = []
  const [PORT_1, PORT_2] = freePorts(2, 24700, 13)

  beforeAll(async () => {
    root = await makeTestRoot()
    keys = await makeKeyPair()
    for (const [name, port] of [['users1', PORT_1], ['users2', PORT_2]] as const) {
      await createContainer(root, {distro: 'debian', name, copy: true, sshKeyFiles: [keys.pub], idleTimeoutSec: 0, privateUsers: true, ports: [{port, service: 'ssh', address: '127.0.0.1'}]})
    }
    activator = await startActivator({root, log: (m) => log.push(`${new Date().toISOString()} ${m}`)})
    expect((await startContainers(root, ['users1', 'users2'], {now: false})).items.map((i) => i.error)).toEqual([undefined, undefined])
  })

  afterAll(() => tearDown({activator, root, keys, log}))

  it('ssh through the activator logs in as root inside, which is an unprivileged UID range on the host', async () => {
    const login = await ssh(keys.key, PORT_1, 'id -u; touch /root/made-inside')
    expect(login.exitCode, login.stderr).toBe(0)
    expect(login.stdout.trim()).toBe('0')
    const leader = await wakeContainer(root, 'users1')
    const map = uidMap(leader)
    expect(map.inside).toBe(0)
    expect(map.host).toBeGreaterThanOrEqual(65536)
    expect(map.count).toBe(65536)
    // Its PID 1 runs as that range's first UID on the host, not as root.
    expect(hostUid(leader)).toBe(map.host)
    // The file root made inside: owned by the range as the host sees the container's tree ...
    expect(statSync(`/proc/${leader}/root/root/made-inside`).uid).toBe(map.host)
    // ... and stored unshifted on disk (the idmapped mount maps it): nothing is chowned.
    expect(statSync(join(containerPaths(root, 'users1').rootfs, 'root', 'made-inside')).uid).toBe(0)
    const status = await getContainerStatus(root, 'users1')
    expect(status?.privateUsers).toBe(true)
  })

  it('two containers get disjoint ranges', async () => {
    expect((await ssh(keys.key, PORT_2, 'true')).exitCode).toBe(0)
    const [a, b] = await Promise.all([wakeContainer(root, 'users1'), wakeContainer(root, 'users2')]).then((leaders) => leaders.map(uidMap))
    expect(a.host + a.count <= b.host || b.host + b.count <= a.host, `${a.host}+${a.count} and ${b.host}+${b.count}`).toBe(true)
  })

  it('nothing on disk is chowned: the tree keeps its 0-based owners, the base is untouched', async () => {
    const record = await getContainer(root, 'users1')
    const base = imagePaths(root, record.image).tree
    const tree = containerPaths(root, 'users1').rootfs
    for (const path of ['etc/passwd', 'usr/bin/bash', 'root']) {
      expect(statSync(join(base, path)).uid, path).toBe(0)
      expect(statSync(join(tree, path)).uid, path).toBe(0)
    }
  })

  it('an overlay container is refused --private-users with one line, and nothing is made', async () => {
    const made = await ctr(root, ['create', 'debian', 'users3', '--private-users'])
    expect(made.exitCode).not.toBe(0)
    expect(made.stderr).toMatch(/--private-users needs a --copy container/)
    expect(await readContainer(root, 'users3')).toBeUndefined()
    const updated = await ctr(root, ['update', 'users3', '--private-users'])
    expect(updated.exitCode).not.toBe(0)
  })

  it('ctr shell enters as root of the container, and ctr logs reads its journal', async () => {
    const shell = await ctr(root, ['shell', 'users1', '--', 'sh', '-c', 'id -u; cat /proc/self/uid_map'])
    expect(shell.exitCode, shell.stderr).toBe(0)
    const [uid, map] = shell.stdout.trim().split('\n')
    expect(uid).toBe('0')
    expect(map.trim().split(/\s+/).slice(0, 2)).toEqual(['0', String(uidMap(await wakeContainer(root, 'users1')).host)])
    const logs = await ctr(root, ['logs', 'users1', '-n', '50'])
    expect(logs.exitCode, logs.stderr).toBe(0)
    expect(logs.stdout).toMatch(/sshd|systemd/)
  })

  it('the idle rule powers it off (it stops the socket units inside first), and the next login wakes it', async () => {
    expect((await ctr(root, ['update', 'users2', '--idle-timeout', '2'])).exitCode).toBe(0)
    let status = await getContainerStatus(root, 'users2')
    for (let i = 0; i < 100 && status?.state !== 'listening'; i++) {
      await new Promise((r) => setTimeout(r, 200))
      status = await getContainerStatus(root, 'users2')
    }
    expect(status?.state).toBe('listening')
    expect(status?.lastStopReason).toBe('idle')
    expect(log.join('\n')).not.toMatch(/users2: could not stop its socket units/)
    const again = await ssh(keys.key, PORT_2, 'id -u')
    expect(again.stdout.trim()).toBe('0')
  })
})
