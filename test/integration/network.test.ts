/**
 * --network private (real nspawn, real OpenSSH): the container has loopback only, yet serves its
 * exposed port through the passed socket, and sees the real client's address; it cannot reach a
 * service on the host's loopback, and a port it binds is its own, not the host's.
 */
import {createServer, connect, type Server} from 'node:net'
import {statSync} from 'node:fs'
import {isNamespaceFile} from '../../src/network/netns.js'
import {containerPaths} from '../../src/store/paths.js'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {startActivator, type RunningActivator} from '../../src/activator/server.js'
import {createContainer} from '../../src/containers/create.js'
import {startContainers, stopContainers} from '../../src/containers/lifecycle.js'
import {getContainerStatus} from '../../src/status/collect.js'
import {freePorts} from '../helpers/ports.js'
import {makeTestRoot, skipReason, tearDown} from '../helpers/roots.js'
import {makeKeyPair, ssh} from '../helpers/ssh.js'

const reason = skipReason()
if (reason) console.warn(`test/integration/network.test.ts: ${reason}`)

describe.skipIf(reason)('a container with a private network (real nspawn, real ssh)', () => {
  let root: string
  let activator: RunningActivator | undefined
  let keys: Awaited<ReturnType<typeof makeKeyPair>>
  let hostService: Server
  const log: string[] = []
  const [PORT, HOST_ONLY, INSIDE] = freePorts(3, 24500, 11)

  beforeAll(async () => {
    root = await makeTestRoot()
    keys = await makeKeyPair()
    // A service on the host's loopback, which the container must not reach.
    hostService = createServer((s) => s.end('host secret\n'))
    await new Promise<void>((r) => hostService.listen(HOST_ONLY, '127.0.0.1', () => r()))
    await createContainer(root, {distro: 'debian', name: 'priv', sshKeyFiles: [keys.pub], idleTimeoutSec: 0, network: 'private', ports: [{port: PORT, service: 'ssh', address: '127.0.0.1'}]})
    activator = await startActivator({root, log: (m) => log.push(`${new Date().toISOString()} ${m}`)})
    expect((await startContainers(root, ['priv'], {now: false})).items[0].error).toBeUndefined()
  })

  afterAll(async () => {
    await tearDown({activator, root, keys, log})
    hostService.close()
  })

  it('serves ssh through the passed socket, sees the real client, and has only loopback', async () => {
    const login = await ssh(keys.key, PORT, 'echo "$SSH_CLIENT"; ls /sys/class/net')
    expect(login.exitCode, login.stderr).toBe(0)
    const [client, ...links] = login.stdout.split('\n')
    expect(client).toMatch(/^127\.0\.0\.1 \d+ \d+$/)
    expect(links).toEqual(['lo'])
    expect((await getContainerStatus(root, 'priv'))?.network).toBe('private')
    // The accepted connection belongs to the host's socket, in the host's namespace: the idle rule sees it.
    const session = ssh(keys.key, PORT, 'sleep 3')
    let seen = 0
    for (let i = 0; i < 25 && seen === 0; i++) {
      await new Promise((r) => setTimeout(r, 100))
      seen = (await getContainerStatus(root, 'priv'))?.connections ?? 0
    }
    expect(seen).toBeGreaterThanOrEqual(1)
    await session
  })

  it('runs in a namespace ctr made while it slept and keeps across boots, without CAP_NET_ADMIN', async () => {
    const netns = containerPaths(root, 'priv').netns
    expect(isNamespaceFile(netns)).toBe(true)
    const inode = statSync(netns).ino
    expect(log.join('\n')).not.toContain('priv: its network namespace is not set up yet')
    const caps = await ssh(keys.key, PORT, 'grep CapEff /proc/self/status')
    // Bit 12: it cannot change its own network, which is ctr's.
    expect(BigInt(`0x${caps.stdout.split(/\s+/)[1]}`) & (1n << 12n)).toBe(0n)
    expect((await stopContainers(root, ['priv'], {keepPorts: true})).items[0].error).toBeUndefined()
    expect((await ssh(keys.key, PORT, 'true')).exitCode).toBe(0)
    expect(statSync(netns).ino).toBe(inode)
  })

  it("cannot reach a service on the host's loopback", async () => {
    const reach = await ssh(keys.key, PORT, `timeout 5 bash -c 'cat </dev/tcp/127.0.0.1/${HOST_ONLY}' 2>&1; echo status=$?`)
    expect(reach.stdout).not.toContain('host secret')
    expect(reach.stdout).toMatch(/Connection refused/)
  })

  it("a port it binds is its own: the host's stays free and unreachable", async () => {
    // A second sshd inside, on a port of the container's own loopback.
    const started = await ssh(keys.key, PORT, `/usr/sbin/sshd -o ListenAddress=127.0.0.1:${INSIDE} -o PidFile=/run/inside.pid && sleep 0.5 && bash -c 'head -c 7 </dev/tcp/127.0.0.1/${INSIDE}'`)
    expect(started.stdout, started.stderr).toBe('SSH-2.0')
    const fromHost = await new Promise<string>((resolve) => {
      const s = connect(INSIDE, '127.0.0.1')
      s.once('connect', () => resolve('connected'))
      s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'))
    })
    expect(fromHost).toBe('ECONNREFUSED')
    await ssh(keys.key, PORT, 'kill $(cat /run/inside.pid)')
  })
})
