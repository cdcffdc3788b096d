/**
 * ctr generate units (real systemd-analyze, real nspawn, real OpenSSH): the seed's pair for a
 * container is accepted by `systemd-analyze verify`, says what ctr would (every port, the limits as
 * the unit's properties), and its commands, run as the host's systemd would run them (the overlay
 * mounted by ExecStartPre, ExecStart under systemd-socket-activate holding the socket unit's port),
 * boot the container on an ssh connection. This host has no systemd as PID 1, so nspawn is told not to
 * register (--register=no): the units as written, under a real systemd, are issue 13's test bed's.
 */
import {spawn} from 'node:child_process'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {join} from 'node:path'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {createContainer} from '../../src/containers/create.js'
import {unmountRootfs} from '../../src/rootfs/mount.js'
import {canBind} from '../../src/sys/socket.js'
import {terminate} from '../../src/sys/process.js'
import {ctr} from '../helpers/cli.js'
import {freePorts} from '../helpers/ports.js'
import {makeTestRoot, skipReason, tearDown} from '../helpers/roots.js'
import {makeKeyPair, ssh} from '../helpers/ssh.js'

const reason = skipReason()
if (reason) console.warn(`test/integration/generate.test.ts: ${reason}`)

/** The words of an Exec*= line as systemd splits them (double quotes, %% and $$ undone), without a leading "-". */
function execWords(text: string, key: string): string[] {
  const line = text.split('\n').find((l) => l.startsWith(`${key}=`))!
  const words = [...line.slice(key.length + 1).replace(/^-/, '').matchAll(/"((?:[^"\\]|\\.)*)"|(\S+)/g)].map((m) => (m[1] !== undefined ? m[1].replace(/\\(.)/g, '$1') : m[2]))
  return words.map((w) => w.replace(/%%/g, '%').replace(/\$\$/g, '$'))
}

describe.skipIf(reason)('ctr generate units: the seed\'s pair for a container', () => {
  let root: string
  let dir: string
  let keys: Awaited<ReturnType<typeof makeKeyPair>>
  const [PORT, PORT_2, PORT_3] = freePorts(3, 24950, 7)

  beforeAll(async () => {
    root = await makeTestRoot()
    keys = await makeKeyPair()
    dir = await mkdtemp('/var/tmp/ctr-units-')
    await createContainer(root, {
      distro: 'debian',
      name: 'seed',
      sshKeyFiles: [keys.pub],
      memoryBytes: 256 * 1024 * 1024,
      pids: 300,
      ports: [{port: PORT, service: 'ssh', address: '127.0.0.1'}, {port: PORT_2, service: 'ssh'}],
      bindsReadOnly: [`${dir}:/mnt/units`],
      capabilities: ['CAP_SYS_PTRACE'],
      systemCalls: ['pidfd_getfd'],
    })
  })

  afterAll(async () => {
    await rm(dir, {recursive: true, force: true})
    await tearDown({root, keys})
  })

  it('prints a socket unit with every port and a service running nspawn -jb with the limits as its properties', async () => {
    const out = await ctr(root, ['generate', 'units', 'seed', '--json'])
    expect(out.exitCode, out.stderr).toBe(0)
    const units = JSON.parse(out.stdout) as {socket: {name: string; text: string}; service: {name: string; text: string}}
    expect(units.socket.name).toBe('seed.socket')
    expect(units.socket.text).toContain(`ListenStream=127.0.0.1:${PORT}\nListenStream=${PORT_2}\n`)
    expect(units.service.name).toBe('seed.service')
    const start = execWords(units.service.text, 'ExecStart')
    expect(start[0]).toMatch(/^\/.*systemd-nspawn$/)
    expect(start).toEqual(expect.arrayContaining(['-b', '--link-journal=no', '--keep-unit', '--machine=seed']))
    // The record's own options, as ctr's boot gives them.
    expect(start).toEqual(expect.arrayContaining([`--bind-ro=${dir}:/mnt/units`, '--capability=CAP_SYS_PTRACE', '--system-call-filter=pidfd_getfd']))
    expect(start).not.toContain('--register=no')
    for (const line of ['MemoryMax=268435456', 'TasksMax=300', 'Delegate=yes', 'KillMode=mixed', 'Type=notify']) expect(units.service.text).toContain(`\n${line}\n`)
  })

  it('systemd-analyze verify accepts the pair it writes with --dir, which replaces nothing without --force', async () => {
    const wrote = await ctr(root, ['generate', 'units', 'seed', '--dir', dir])
    expect(wrote.exitCode, wrote.stderr).toBe(0)
    const verify = await execa('systemd-analyze', ['verify', join(dir, 'seed.socket'), join(dir, 'seed.service')], {reject: false})
    expect(verify.exitCode, verify.stderr).toBe(0)
    const again = await ctr(root, ['generate', 'units', 'seed', '--dir', dir])
    expect(again.exitCode).not.toBe(0)
    expect(again.stderr).toMatch(/seed\.socket exists already/)
    expect((await ctr(root, ['generate', 'units', 'seed', '--dir', dir, '--force'])).exitCode).toBe(0)
  })

  it('its commands, run as systemd would, boot the container on an ssh connection', async () => {
    const text = await readFile(join(dir, 'seed.service'), 'utf8')
    await unmountRootfs(root, 'seed')
    // ExecStartPre: the overlay, as ctr mounts it.
    const pre = execWords(text, 'ExecStartPre')
    await execa(pre[0], pre.slice(1))
    const start = execWords(text, 'ExecStart')
    start.splice(start.indexOf('--keep-unit'), 0, '--register=no')
    const child = spawn('systemd-socket-activate', ['-l', `127.0.0.1:${PORT}`, ...start], {stdio: 'ignore'})
    try {
      for (let i = 0; i < 200 && canBind(PORT, '127.0.0.1').ok; i++) await new Promise((r) => setTimeout(r, 10))
      const login = await ssh(keys.key, PORT, 'systemctl is-system-running --wait >/dev/null; cat /etc/hostname; systemctl show -p ActiveState ctr-ssh.socket; head -1 /mnt/units/seed.service')
      expect(login.exitCode, login.stderr).toBe(0)
      expect(login.stdout).toContain('ActiveState=active')
      // The bind of its record, made by the unit's nspawn.
      expect(login.stdout).toContain('# ctr generate units seed')
    } finally {
      await terminate([child.pid!], 30_000)
    }
  })

  it('refuses a container with no port, and an overlay with user IDs of its own, in one line each', async () => {
    await createContainer(root, {distro: 'debian', name: 'portless', sshKeyFiles: [keys.pub]})
    const none = await ctr(root, ['generate', 'units', 'portless'])
    expect(none.exitCode).not.toBe(0)
    expect(none.stderr.split('\n')[0]).toBe('ctr: portless exposes no port: its socket unit would listen on nothing')
    await createContainer(root, {distro: 'debian', name: 'userns', sshKeyFiles: [keys.pub], privateUsers: true, ports: [{port: PORT_3, service: 'ssh', address: '127.0.0.1'}]})
    const userns = await ctr(root, ['generate', 'units', 'userns'])
    expect(userns.exitCode).not.toBe(0)
    expect(userns.stderr).toMatch(/idmapped layers only ctr mounts/)
  })
})
