import {mkdtemp, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {collides, pickContainer} from '../../../src/containers/expose.js'
import {journalArgv, journalDir} from '../../../src/containers/logs.js'
import {shellArgv, shellEnv} from '../../../src/containers/shell.js'
import {getStatus} from '../../../src/status/collect.js'
import {writeContainer, type ContainerRecord} from '../../../src/store/containers.js'

const record = (name: string, ports: ContainerRecord['ports'] = []): ContainerRecord => ({
  name,
  distro: 'debian',
  release: 'bookworm',
  image: 'debian-bookworm',
  storage: 'overlay',
  profile: 'lean',
  createdAt: '2026-01-01T00:00:00Z',
  ports,
  idleTimeoutSec: 0,
})

describe('which exposures collide', () => {
  it('same port, and one address covers the other', () => {
    expect(collides({port: 22, service: 'ssh'}, {port: 22, service: 'ssh', address: '127.0.0.1'})).toBe(true)
    expect(collides({port: 22, service: 'ssh', address: '0.0.0.0'}, {port: 22, service: 'ssh', address: '::1'})).toBe(true)
    expect(collides({port: 22, service: 'ssh', address: '127.0.0.1'}, {port: 22, service: 'ssh', address: '127.0.0.1'})).toBe(true)
  })

  it('different ports, or two different specific addresses, do not', () => {
    expect(collides({port: 22, service: 'ssh'}, {port: 23, service: 'ssh'})).toBe(false)
    expect(collides({port: 22, service: 'ssh', address: '127.0.0.1'}, {port: 22, service: 'ssh', address: '127.0.0.2'})).toBe(false)
  })
})

describe('the container a command means, and status without an activator', () => {
  let root: string | undefined
  afterEach(async () => {
    if (root) await rm(root, {recursive: true, force: true})
    root = undefined
  })

  it('-c may be left out with one container; with several it says which exist', async () => {
    root = await mkdtemp(join(tmpdir(), 'ctr-unit-'))
    await expect(pickContainer(root, undefined, 'expose')).rejects.toMatchObject({code: 'NOT_FOUND'})
    await writeContainer(root, record('web1'))
    expect((await pickContainer(root, undefined, 'expose')).name).toBe('web1')
    await writeContainer(root, record('web2'))
    await expect(pickContainer(root, undefined, 'expose')).rejects.toMatchObject({code: 'AMBIGUOUS', hints: ['containers: web1, web2']})
    await expect(pickContainer(root, 'web3', 'expose')).rejects.toMatchObject({code: 'NOT_FOUND'})
  })

  it('getStatus falls back to the store (live: false, all stopped) when the activator is down', async () => {
    root = await mkdtemp(join(tmpdir(), 'ctr-unit-'))
    await writeContainer(root, record('web1', [{port: 2222, service: 'ssh'}]))
    const report = await getStatus(root)
    expect(report.live).toBe(false)
    expect(report.containers).toEqual([
      expect.objectContaining({name: 'web1', state: 'stopped', ports: [{port: 2222, service: 'ssh'}], connections: 0, wakes: 0}),
    ])
  })
})

describe('argv of logs and shell', () => {
  it('journalctl reads the tree\'s journal directory', () => {
    expect(journalDir('/r/containers/a/rootfs')).toBe('/r/containers/a/rootfs/var/log/journal')
    expect(journalArgv('/j', {lines: 10})).toEqual(['journalctl', '-D', '/j', '--no-pager', '-q', '-n', '10'])
    expect(journalArgv('/j', {lines: 5, follow: true}).at(-1)).toBe('-f')
  })

  it('nsenter enters every namespace of the container\'s PID 1, under setpriv with the container\'s bounding set', () => {
    const argv = shellArgv(4242, 0xfcecafffn, [])
    expect(argv[0]).toBe('setpriv')
    expect(argv).toContain('--inh-caps=-all')
    const bounding = argv.find((a) => a.startsWith('--bounding-set='))!
    expect(bounding).toMatch(/^--bounding-set=-all,\+chown,/)
    expect(bounding).toContain('+sys_admin')
    expect(bounding).not.toContain('sys_module')
    expect(argv.slice(argv.indexOf('nsenter'), argv.indexOf('nsenter') + 5)).toEqual(['nsenter', '-t', '4242', '-a', '--'])
    expect(argv).not.toContain('/usr/bin/env')
    expect(shellEnv('xterm')).toMatchObject({TERM: 'xterm', HOME: '/root'})
    expect(shellArgv(1, 0n, ['systemctl', 'is-system-running']).slice(-5)).toEqual(['-c', 'exec "$@"', 'sh', 'systemctl', 'is-system-running'])
  })

  it('refuses to enter a container whose bounding set cannot be read (it is gone)', () => {
    expect(() => shellArgv(1, undefined, [])).toThrow(expect.objectContaining({code: 'NOT_RUNNING'}))
  })
})
