/**
 * What the issue 13 prototype added: a container's own binds and capabilities (create --bind-ro,
 * --bind, --capability), in its record and nspawn's argv, and the container's leader found nearest
 * to nspawn first (a lower pid deeper down is a service, not its PID 1).
 */
import {describe, expect, it} from 'vitest'
import {containerLeader} from '../../src/activator/proc.js'
import {parseBind} from '../../src/containers/create.js'
import {nspawnArgv} from '../../src/nspawn/argv.js'
import {checkRecord, recordBinds} from '../../src/store/containers.js'

const record = {name: 'a', distro: 'debian', release: 'bookworm', image: 'i', storage: 'overlay', profile: 'full', createdAt: 'now', ports: [], idleTimeoutSec: 0}

describe('a container\'s own binds and capabilities', () => {
  it('--bind-ro and --bind take HOST[:INSIDE], absolute, existing, without ".."', () => {
    expect(parseBind('/tmp', true)).toEqual({host: '/tmp', inside: '/tmp', readOnly: true})
    expect(parseBind('/tmp/:/var/lib/ctr', false)).toEqual({host: '/tmp/', inside: '/var/lib/ctr', readOnly: false})
    expect(() => parseBind('tmp:/x', true)).toThrow(/--bind-ro wants HOST\[:INSIDE\]/)
    expect(() => parseBind('/tmp:/x/../etc', false)).toThrow(/--bind wants HOST\[:INSIDE\]/)
    expect(() => parseBind('/no/such/dir/here', true)).toThrow(/does not exist on the host/)
  })

  it('are kept in the record, checked when it is read, and passed to nspawn', () => {
    const binds = [{host: '/usr/bin/node', inside: '/usr/local/bin/node', readOnly: true}, {host: '/srv/n:x', inside: '/var/lib/ctr', readOnly: false}]
    expect(checkRecord('a', JSON.stringify({...record, binds, capabilities: ['CAP_NET_ADMIN']}))).toMatchObject({binds, capabilities: ['CAP_NET_ADMIN']})
    expect(checkRecord('a', JSON.stringify({...record, binds: [{host: 'rel', inside: '/x', readOnly: true}]}))).toMatch(/binds\[0\]/)
    expect(checkRecord('a', JSON.stringify({...record, binds: {}}))).toMatch(/binds is/)
    expect(checkRecord('a', JSON.stringify({...record, capabilities: ['net_admin']}))).toMatch(/capabilities is/)
    expect(checkRecord('a', JSON.stringify({...record, systemCalls: ['pidfd_getfd', '@process']}))).toMatchObject({systemCalls: ['pidfd_getfd', '@process']})
    expect(checkRecord('a', JSON.stringify({...record, systemCalls: ['rm -rf']}))).toMatch(/systemCalls is/)
    const own = recordBinds({binds})
    expect(own).toEqual({readOnly: [['/usr/bin/node', '/usr/local/bin/node']], readWrite: [['/srv/n:x', '/var/lib/ctr']]})
    const argv = nspawnArgv({tree: '/t', machine: 'a', hostHasSystemd: true, bindsReadOnly: own.readOnly, bindsReadWrite: own.readWrite, extra: ['--capability=CAP_NET_ADMIN']})
    expect(argv).toEqual(expect.arrayContaining(['--bind-ro=/usr/bin/node:/usr/local/bin/node', '--bind=/srv/n\\:x:/var/lib/ctr', '--capability=CAP_NET_ADMIN']))
  })
})

describe('containerLeader', () => {
  it('is the child of nspawn in another pid namespace, even when a process deeper down has a lower pid', () => {
    // nspawn 31605 -> systemd 31608 (the container's PID 1) -> machined 902 (pids wrapped around).
    const parents = new Map([[31608, 31605], [902, 31608], [31700, 31608]])
    const ns = (pid: number) => (pid === 31605 ? 'pid:[host]' : 'pid:[container]')
    expect(containerLeader(31605, parents, ns)).toBe(31608)
    // nspawn's own helper child in its namespace, the container's init below it.
    expect(containerLeader(1, new Map([[5, 1], [3, 5]]), (pid) => (pid === 3 ? 'pid:[c]' : 'pid:[h]'))).toBe(3)
    expect(containerLeader(1, new Map([[5, 1]]), () => 'pid:[h]')).toBeUndefined()
  })
})
