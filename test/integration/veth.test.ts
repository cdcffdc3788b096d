/**
 * --network veth (real nspawn, real OpenSSH, real nftables): a container gets an address of its
 * own from the range, reaches the host through its veth (egress is tried against a listener this
 * test starts on the host's end: all traffic stays on this machine), is still served through its
 * passed sockets, cannot reach another container's address, keeps its address across a reboot, and
 * gives it back on rm. The range is the test's own, so it never meets a user's containers.
 */
import {execFileSync} from 'node:child_process'
import {existsSync, readFileSync, writeFileSync} from 'node:fs'
import {createServer, type Server} from 'node:net'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {startActivator, type RunningActivator} from '../../src/activator/server.js'
import {createContainer} from '../../src/containers/create.js'
import {startContainers, stopContainers} from '../../src/containers/lifecycle.js'
import {wakeContainer} from '../../src/containers/shell.js'
import {removeContainers} from '../../src/containers/remove.js'
import {hostIfname, natTable, vethPair} from '../../src/network/veth.js'
import {containerPaths} from '../../src/store/paths.js'
import {getContainerStatus} from '../../src/status/collect.js'
import {getContainer} from '../../src/store/containers.js'
import {ctr} from '../helpers/cli.js'
import {freePorts} from '../helpers/ports.js'
import {makeTestRoot, skipReason, tearDown} from '../helpers/roots.js'
import {makeKeyPair, ssh} from '../helpers/ssh.js'

const reason = skipReason()
if (reason) console.warn(`test/integration/veth.test.ts: ${reason}`)

const RANGE = '10.213.250.0/24'
const FORWARD = '/proc/sys/net/ipv4/ip_forward'

describe.skipIf(reason)('containers with a veth address of their own (real nspawn, real ssh, real nftables)', () => {
  let root: string
  let activator: RunningActivator | undefined
  let keys: Awaited<ReturnType<typeof makeKeyPair>>
  let listener: Server | undefined
  let forwardBefore: string
  const rangeBefore = process.env.CTR_VETH_RANGE
  const log: string[] = []
  const [PORT_1, PORT_2, PORT_3, EGRESS, INSIDE] = freePorts(5, 24900, 11)

  /** NAME's network as seen in its namespace with the host's `ip` (the base tree has none). */
  const insideNet = async (name: string, what: string[]) => execFileSync('nsenter', ['-t', String(await wakeContainer(root, name)), '-n', 'ip', '-4', '-o', ...what], {encoding: 'utf8'})

  /** operstate of the host's end of NAME's pair ('up' once both ends are). */
  const hostEnd = (name: string) => (existsSync(`/sys/class/net/${hostIfname(root, name)}`) ? readFileSync(`/sys/class/net/${hostIfname(root, name)}/operstate`, 'utf8').trim() : 'absent')

  /** Waits until NAME's veth is set up (the activator logs it once both ends are). */
  const vethUp = async (name: string) => {
    for (let i = 0; i < 200 && !log.some((l) => l.includes(`${name}: network namespace up (veth`)); i++) await new Promise((r) => setTimeout(r, 50))
    expect(log.join('\n')).toContain(`${name}: network namespace up (veth`)
  }

  beforeAll(async () => {
    forwardBefore = readFileSync(FORWARD, 'utf8').trim()
    // Forwarding off, as on a host that routes nothing: ctr turns it on, with its guard (below).
    writeFileSync(FORWARD, '0')
    process.env.CTR_VETH_RANGE = RANGE
    root = await makeTestRoot()
    keys = await makeKeyPair()
    for (const [name, port] of [['vet1', PORT_1], ['vet2', PORT_2]] as const) {
      await createContainer(root, {distro: 'debian', name, sshKeyFiles: [keys.pub], idleTimeoutSec: 0, network: 'veth', ports: [{port, service: 'ssh', address: '127.0.0.1'}]})
    }
    activator = await startActivator({root, log: (m) => log.push(`${new Date().toISOString()} ${m}`)})
    expect((await startContainers(root, ['vet1', 'vet2'], {now: false})).items.map((i) => i.error)).toEqual([undefined, undefined])
  })

  afterAll(async () => {
    listener?.close()
    await tearDown({activator, root, keys, log})
    writeFileSync(FORWARD, forwardBefore)
    if (rangeBefore === undefined) delete process.env.CTR_VETH_RANGE
    else process.env.CTR_VETH_RANGE = rangeBefore
  })

  it('each gets a /30 of the range, set up while it sleeps: its address inside on host0, served by ssh through the passed socket', async () => {
    const [a, b] = [await getContainer(root, 'vet1'), await getContainer(root, 'vet2')]
    expect(a.address).toBe('10.213.250.2')
    expect(b.address).toBe('10.213.250.6')
    // Made before any connection: the wake only joins the namespace.
    await vethUp('vet1')
    expect(hostEnd('vet1')).toBe('up')
    const login = await ssh(keys.key, PORT_1, 'cat /sys/class/net/host0/operstate; ls /sys/class/net; grep CapEff /proc/self/status')
    expect(login.exitCode, login.stderr).toBe(0)
    const [operstate, ...rest] = login.stdout.split('\n')
    expect(operstate).toBe('up')
    // Its sysfs shows its own links only, not the host's or its neighbours' ends.
    expect(rest.slice(0, -1)).toEqual(['host0', 'lo'])
    // Root inside lacks CAP_NET_ADMIN (bit 12): it cannot take a neighbour's address.
    expect(BigInt(`0x${rest.at(-1)!.split(/\s+/)[1]}`) & (1n << 12n)).toBe(0n)
    expect(log.join('\n')).not.toContain('vet1: its network namespace is not set up yet')
    expect(await insideNet('vet1', ['addr', 'show', 'host0'])).toContain('inet 10.213.250.2/30')
    expect(await insideNet('vet1', ['route', 'show', 'default'])).toContain('default via 10.213.250.1 dev host0')
    expect((await getContainerStatus(root, 'vet1'))?.address).toBe('10.213.250.2')
  })

  it('reaches a listener on the host through its veth (egress), and the NAT table lists it', async () => {
    const gateway = vethPair('10.213.250.2').gateway
    listener = createServer((s) => s.end('hello from the host\n'))
    await new Promise<void>((r) => listener!.listen(EGRESS, gateway, () => r()))
    const out = await ssh(keys.key, PORT_1, `timeout 5 bash -c 'cat </dev/tcp/${gateway}/${EGRESS}'`)
    expect(out.stdout).toBe('hello from the host')
    const table = execFileSync('nft', ['list', 'table', 'ip', natTable(root)], {encoding: 'utf8'})
    expect(table).toMatch(/elements = \{ [^}]*10\.213\.250\.2/)
    expect(readFileSync(FORWARD, 'utf8').trim()).toBe('1')
    // Forwarding was off: nothing but the containers' traffic is forwarded now that it is on.
    expect(table).toContain('ip saddr != @containers drop')
  })

  it("cannot reach another container's address, which the host can", async () => {
    expect((await ssh(keys.key, PORT_2, 'true')).exitCode).toBe(0)
    await vethUp('vet2')
    // A second sshd inside vet2 on its veth address, for as long as that session lasts.
    const session = ssh(keys.key, PORT_2, `/usr/sbin/sshd -D -o ListenAddress=10.213.250.6:${INSIDE} & sleep 6; kill $!`)
    for (let i = 0; i < 50 && !(await insideNet('vet2', ['route'])).length; i++) await new Promise((r) => setTimeout(r, 100))
    await new Promise((r) => setTimeout(r, 1500))
    const fromHost = execFileSync('bash', ['-c', `timeout 5 head -c 7 </dev/tcp/10.213.250.6/${INSIDE}`], {encoding: 'utf8'})
    expect(fromHost).toBe('SSH-2.0')
    const fromNeighbour = await ssh(keys.key, PORT_1, `timeout 3 bash -c 'head -c 7 </dev/tcp/10.213.250.6/${INSIDE}' 2>&1; echo status=$?`)
    expect(fromNeighbour.stdout).not.toContain('SSH-2.0')
    expect(fromNeighbour.stdout).toMatch(/status=(124|1)/)
    await session
  })

  it('ctr shell enters its network namespace, and ctr logs reads its journal', async () => {
    const shell = await ctr(root, ['shell', 'vet1', '--', 'cat', '/sys/class/net/host0/operstate'])
    expect(shell.stdout.trim(), shell.stderr).toBe('up')
    const logs = await ctr(root, ['logs', 'vet1', '-n', '50'])
    expect(logs.exitCode, logs.stderr).toBe(0)
    expect(logs.stdout).toMatch(/sshd|systemd/)
  })

  it('keeps its address and namespace across a poweroff and the next boot, with nothing made again', async () => {
    expect((await stopContainers(root, ['vet1'], {keepPorts: true})).items[0].error).toBeUndefined()
    // The pair outlives the boot: its namespace is ctr's, not the container's.
    expect(hostEnd('vet1')).toBe('up')
    log.length = 0
    expect((await ssh(keys.key, PORT_1, 'true')).exitCode).toBe(0)
    expect(await insideNet('vet1', ['addr', 'show', 'host0'])).toContain('inet 10.213.250.2/30')
    expect(log.join('\n')).not.toContain('vet1: network namespace up')
  })

  it('makes them again before the wake when they are gone (as after a host reboot)', async () => {
    expect((await stopContainers(root, ['vet1'], {keepPorts: true})).items[0].error).toBeUndefined()
    execFileSync('ip', ['link', 'del', hostIfname(root, 'vet1')])
    execFileSync('umount', [containerPaths(root, 'vet1').netns])
    log.length = 0
    const out = await ssh(keys.key, PORT_1, 'cat /sys/class/net/host0/operstate')
    expect(out.stdout).toBe('up')
    expect(log.join('\n')).toContain('vet1: its network namespace is not set up yet; setting it up before it boots')
    expect(await insideNet('vet1', ['addr', 'show', 'host0'])).toContain('inet 10.213.250.2/30')
  })

  it('rm gives the address back: the next container (made with the default network) gets it, and the NAT set no longer lists it', async () => {
    expect((await stopContainers(root, ['vet2'], {keepPorts: false})).items[0].error).toBeUndefined()
    const removed = await removeContainers(root, ['vet2'])
    expect(removed[0].removed, JSON.stringify(removed[0].error)).toBe(true)
    const set = execFileSync('nft', ['list', 'set', 'ip', natTable(root), 'containers'], {encoding: 'utf8'})
    expect(set).not.toContain('10.213.250.6')
    expect(existsSync(`/sys/class/net/${hostIfname(root, 'vet2')}`)).toBe(false)
    // Made without --network (and without CTR_NETWORK, which the test run sets to host): veth is the default.
    const network = process.env.CTR_NETWORK
    delete process.env.CTR_NETWORK
    try {
      await createContainer(root, {distro: 'debian', name: 'vet3', sshKeyFiles: [keys.pub], idleTimeoutSec: 0, ports: [{port: PORT_3, service: 'ssh', address: '127.0.0.1'}]})
    } finally {
      process.env.CTR_NETWORK = network
    }
    expect(await getContainer(root, 'vet3')).toMatchObject({network: 'veth', address: '10.213.250.6'})
  })
})
