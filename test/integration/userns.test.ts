/**
 * --private-users (real nspawn, real OpenSSH through the activator): root inside is an
 * unprivileged UID range on the host, each container its own range, and the tree is seen through
 * an idmapped mount: nothing on disk is chowned. `ctr shell`, `ctr logs` and the idle rule (which
 * runs systemctl inside) work as they do without a user namespace. A --copy is seen through an
 * idmapped mount by nspawn; an overlay (the kernel cannot idmap an overlayfs mount) is stacked on
 * idmapped lowers, its upper dir stored shifted, so the base stays shared and unchowned.
 */
import {execFileSync} from 'node:child_process'
import {execa} from 'execa'
import {readFileSync, statSync} from 'node:fs'
import {FIRST_UID_BASE} from '../../src/rootfs/uid-ranges.js'
import {processName, processTree} from '../../src/activator/proc.js'
import {join} from 'node:path'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {startActivator, type RunningActivator} from '../../src/activator/server.js'
import {createContainer} from '../../src/containers/create.js'
import {startContainers} from '../../src/containers/lifecycle.js'
import {wakeContainer} from '../../src/containers/shell.js'
import {getContainerStatus} from '../../src/status/collect.js'
import {getContainer} from '../../src/store/containers.js'
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
  const [PORT_1, PORT_2, HTTP] = freePorts(3, 24700, 13)

  beforeAll(async () => {
    root = await makeTestRoot({layers: [['http']]})
    keys = await makeKeyPair()
    // users1 a copy, users2 an overlay on the shared base.
    for (const [name, port, copy] of [['users1', PORT_1, true], ['users2', PORT_2, false]] as const) {
      await createContainer(root, {distro: 'debian', name, copy, sshKeyFiles: [keys.pub], idleTimeoutSec: 0, privateUsers: true, ports: [{port, service: 'ssh', address: '127.0.0.1'}]})
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
    // The range of its record, one of ctr's.
    expect(map.host).toBe((await getContainer(root, 'users1')).uidBase)
    expect(map.host).toBeGreaterThanOrEqual(FIRST_UID_BASE)
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

  it('an overlay container: root inside is its range, the base stays shared and unchowned, its upper dir is stored shifted and small', async () => {
    const login = await ssh(keys.key, PORT_2, 'id -u; stat -c %u /etc/passwd /root/.ssh/authorized_keys; touch /root/made-inside')
    expect(login.exitCode, login.stderr).toBe(0)
    // Root inside; the base's files and the key ctr wrote at create are root's inside too.
    expect(login.stdout.split('\n')).toEqual(['0', '0', '0'])
    const record = await getContainer(root, 'users2')
    const leader = await wakeContainer(root, 'users2')
    expect(uidMap(leader)).toEqual({inside: 0, host: record.uidBase, count: 65536})
    expect(hostUid(leader)).toBe(record.uidBase)
    const paths = containerPaths(root, 'users2')
    // On disk: the file root made inside is owned by the range's first UID, in the upper dir ...
    expect(statSync(join(paths.upper, 'root', 'made-inside')).uid).toBe(record.uidBase)
    // ... and so is what ctr wrote there (never the host's root) ...
    expect(statSync(join(paths.upper, 'root', '.ssh', 'authorized_keys')).uid).toBe(record.uidBase)
    // ... while the shared base keeps its owners.
    const base = imagePaths(root, record.image).tree
    for (const path of ['etc/passwd', 'usr/bin/bash', 'root']) expect(statSync(join(base, path)).uid, path).toBe(0)
    // Its own disk: the upper dir only (the target: under 20 MB).
    const bytes = Number(execFileSync('du', ['-sb', paths.upper], {encoding: 'utf8'}).split(/\s/)[0])
    console.log(`overlay with --private-users: ${(bytes / 1e6).toFixed(2)} MB of its own after a boot and a login`)
    expect(bytes).toBeLessThan(20e6)
    const users1 = await getContainer(root, 'users1')
    expect(Math.abs(users1.uidBase! - record.uidBase!)).toBeGreaterThanOrEqual(65536)
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

  it("update --no-private-users and back: the overlay's upper dir is shifted down and up again at the next boot", async () => {
    const paths = containerPaths(root, 'users2')
    const before = (await getContainer(root, 'users2')).uidBase!
    expect((await ctr(root, ['stop', 'users2', '--hold'])).exitCode).toBe(0)
    const off = await ctr(root, ['update', 'users2', '--no-private-users'])
    expect(off.stdout, off.stderr).toContain("user IDs the host's (from the next boot)")
    expect((await ssh(keys.key, PORT_2, 'test -O /root/made-inside')).exitCode).toBe(0)
    expect(uidMap(await wakeContainer(root, 'users2'))).toEqual({inside: 0, host: 0, count: 4294967295})
    expect(statSync(join(paths.upper, 'root', 'made-inside')).uid).toBe(0)
    expect(statSync(paths.upper).uid).toBe(0)
    expect((await ctr(root, ['stop', 'users2', '--hold'])).exitCode).toBe(0)
    expect((await ctr(root, ['update', 'users2', '--private-users'])).exitCode).toBe(0)
    const record = await getContainer(root, 'users2')
    expect(record.uidBase).toBe(before)
    expect((await ssh(keys.key, PORT_2, 'test -O /root/made-inside && id -u')).stdout.trim()).toBe('0')
    expect(statSync(join(paths.upper, 'root', 'made-inside')).uid).toBe(before)
    const listed = JSON.parse((await ctr(root, ['ls', '--json'])).stdout) as {containers: Array<{name: string; uidBase?: number}>}
    expect(listed.containers.find((c) => c.name === 'users2')?.uidBase).toBe(before)
  })

  it('a service exposed later (a package layer more, so new idmapped lowers) runs as its user in the range', async () => {
    expect((await ctr(root, ['stop', 'users2', '--hold'])).exitCode).toBe(0)
    const exposed = await ctr(root, ['expose', `127.0.0.1:${HTTP}`, 'http', '-c', 'users2'])
    expect(exposed.exitCode, exposed.stderr).toBe(0)
    const page = await execa('curl', ['-sS', '--max-time', '60', `http://127.0.0.1:${HTTP}/`], {reject: false})
    expect(page.stdout, page.stderr).toContain('This is container users2')
    const base = (await getContainer(root, 'users2')).uidBase!
    const leader = await wakeContainer(root, 'users2')
    // lighttpd runs as www-data (33) of the container: BASE + 33 on the host.
    const lighttpd = processTree(leader).filter((pid) => processName(pid) === 'lighttpd')
    expect(lighttpd.length).toBeGreaterThan(0)
    expect(hostUid(lighttpd[0])).toBe(base + 33)
  })
})
