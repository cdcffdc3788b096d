import {FIRST_UID_BASE, UID_RANGE, allocateUidBase, idmapsLowers} from '../../src/rootfs/uid-ranges.js'
import {describe, expect, it} from 'vitest'
import {parseCpus, parseMemory, pidsFlag} from '../../src/cli/flags.js'
import {limitsOf} from '../../src/containers/create.js'
import {checkRecord} from '../../src/store/containers.js'
import {nspawnArgv} from '../../src/nspawn/argv.js'

describe('limits', () => {
  it('--memory takes bytes or K, M, G (powers of 1024); 0 lifts it; too small or not a size is one clear line', () => {
    expect(parseMemory('256M')).toBe(256 * 1024 ** 2)
    expect(parseMemory('2g')).toBe(2 * 1024 ** 3)
    expect(parseMemory('67108864')).toBe(64 * 1024 ** 2)
    expect(parseMemory('0')).toBe(0)
    expect(() => parseMemory('1M')).toThrow(/at least 32M/)
    expect(() => parseMemory('lots')).toThrow(/a size such as 256M/)
    expect(() => parseMemory('1.5G')).toThrow(/a size such as 256M/)
  })

  it('--pids is 0 (none) or at least 32', async () => {
    const parse = (pidsFlag() as unknown as {parse: (input: string) => Promise<number>}).parse
    await expect(parse('200')).resolves.toBe(200)
    await expect(parse('0')).resolves.toBe(0)
    await expect(parse('5')).rejects.toThrow(/at least 32/)
    await expect(parse('-3')).rejects.toThrow(/--pids/)
  })

  it('an update sets or lifts each limit and keeps the others; none left is no limits field', () => {
    expect(limitsOf(undefined, {memoryBytes: 64 << 20})).toEqual({limits: {memoryBytes: 64 << 20}})
    expect(limitsOf({memoryBytes: 64 << 20}, {pids: 100})).toEqual({limits: {memoryBytes: 64 << 20, pids: 100}})
    expect(limitsOf({memoryBytes: 64 << 20, pids: 100}, {memoryBytes: 0})).toEqual({limits: {pids: 100}})
    expect(limitsOf({pids: 100}, {pids: 0})).toEqual({})
  })

  it('a record with limits that are not whole numbers is damaged, not acted on', () => {
    const record = {name: 'a', distro: 'debian', release: 'bookworm', image: 'i', storage: 'overlay', profile: 'lean', createdAt: 'now', ports: [], idleTimeoutSec: 0}
    expect(checkRecord('a', JSON.stringify({...record, limits: {memoryBytes: 1 << 26}}))).toMatchObject({limits: {memoryBytes: 1 << 26}})
    expect(checkRecord('a', JSON.stringify({...record, limits: {pids: -1}}))).toMatch(/limits/)
    expect(checkRecord('a', JSON.stringify({...record, limits: {memoryBytes: '1G'}}))).toMatch(/limits/)
  })

  it('--cpus takes a number of CPUs (0: none) and is a CFS quota; nonsense is one clear line', () => {
    expect(parseCpus('0.5')).toBe(0.5)
    expect(parseCpus('2')).toBe(2)
    expect(parseCpus('0')).toBe(0)
    for (const bad of ['-1', 'half', '0.001', '1e3', '2000']) expect(() => parseCpus(bad), bad).toThrow(/--cpus must be a number of CPUs/)
    expect(nspawnArgv({tree: '/t', machine: 'a', hostHasSystemd: true, limits: {cpus: 1.5}})).toContain('--property=CPUQuota=150%')
    const record = {name: 'a', distro: 'debian', release: 'bookworm', image: 'i', storage: 'overlay', profile: 'lean', createdAt: 'now', ports: [], idleTimeoutSec: 0}
    expect(checkRecord('a', JSON.stringify({...record, limits: {cpus: 0.5}}))).toMatchObject({limits: {cpus: 0.5}})
    expect(checkRecord('a', JSON.stringify({...record, limits: {cpus: -1}}))).toMatch(/limits.cpus/)
  })

  it("on a systemd host the limits are the machine scope's properties", () => {
    const argv = nspawnArgv({tree: '/t', machine: 'a', hostHasSystemd: true, limits: {memoryBytes: 1 << 26, pids: 64}})
    expect(argv).toEqual(expect.arrayContaining(['--property=MemoryMax=67108864', '--property=MemorySwapMax=0', '--property=TasksMax=64']))
    expect(nspawnArgv({tree: '/t', machine: 'a', hostHasSystemd: false, limits: {pids: 64}}).some((a) => a.startsWith('--property'))).toBe(false)
  })

  it('--network private runs nspawn in the namespace ctr made; a record with another mode is damaged', async () => {
    expect(nspawnArgv({tree: '/t', machine: 'a', hostHasSystemd: false, network: 'private', netns: '/c/a/netns'}).slice(0, 4)).toEqual(['nsenter', '--net=/c/a/netns', '--', 'systemd-nspawn'])
    expect(nspawnArgv({tree: '/t', machine: 'a', hostHasSystemd: false, netns: '/c/a/netns'})[0]).toBe('systemd-nspawn')
    const record = {name: 'a', distro: 'debian', release: 'bookworm', image: 'i', storage: 'overlay', profile: 'lean', createdAt: 'now', ports: [], idleTimeoutSec: 0}
    expect(checkRecord('a', JSON.stringify({...record, network: 'private'}))).toMatchObject({network: 'private'})
    expect(checkRecord('a', JSON.stringify({...record, network: 'bridge'}))).toMatch(/network/)
    const {defaultNetwork, validateNetwork} = await import('../../src/containers/create.js')
    expect(() => validateNetwork('bridge')).toThrow(/--network must be host or private or veth/)
    expect(validateNetwork('veth')).toBe('veth')
    // The default: veth, unless CTR_NETWORK says.
    expect(defaultNetwork({})).toBe('veth')
    expect(defaultNetwork({CTR_NETWORK: 'host'})).toBe('host')
    expect(() => defaultNetwork({CTR_NETWORK: 'bridge'})).toThrow(/CTR_NETWORK must be host or private or veth, not "bridge"/)
  })

  it('--private-users: a range of ctr\'s kept in the record, a copy idmapped by nspawn, an overlay already shifted; older records let nspawn pick', async () => {
    const base = FIRST_UID_BASE + 3 * UID_RANGE
    expect(nspawnArgv({tree: '/t', machine: 'a', hostHasSystemd: false, privateUsers: true, uidBase: base})).toEqual(expect.arrayContaining([`--private-users=${base}:65536`, '--private-users-ownership=map']))
    expect(nspawnArgv({tree: '/t', machine: 'a', hostHasSystemd: false, privateUsers: true, uidBase: base, shiftedTree: true})).toEqual(expect.arrayContaining([`--private-users=${base}:65536`, '--private-users-ownership=off']))
    expect(nspawnArgv({tree: '/t', machine: 'a', hostHasSystemd: false, privateUsers: true})).toEqual(expect.arrayContaining(['--private-users=pick', '--private-users-ownership=map']))
    expect(nspawnArgv({tree: '/t', machine: 'a', hostHasSystemd: false}).some((a) => a.startsWith('--private-users'))).toBe(false)
    const record = {name: 'a', distro: 'debian', release: 'bookworm', image: 'i', storage: 'overlay', profile: 'lean', createdAt: 'now', ports: [], idleTimeoutSec: 0}
    expect(checkRecord('a', JSON.stringify({...record, privateUsers: true, uidBase: base}))).toMatchObject({privateUsers: true, uidBase: base})
    expect(checkRecord('a', JSON.stringify({...record, privateUsers: 'yes'}))).toMatch(/privateUsers/)
    // Not one of ctr's ranges (root's own IDs, a range nspawn would pick, one not aligned), or without privateUsers: damaged.
    for (const bad of [0, 524288, base + 1]) expect(checkRecord('a', JSON.stringify({...record, privateUsers: true, uidBase: bad})), String(bad)).toMatch(/uidBase/)
    expect(checkRecord('a', JSON.stringify({...record, uidBase: base}))).toMatch(/uidBase/)
    // The lowest free one; never one another container has.
    expect(allocateUidBase([])).toBe(FIRST_UID_BASE)
    expect(allocateUidBase([FIRST_UID_BASE, FIRST_UID_BASE + 2 * UID_RANGE])).toBe(FIRST_UID_BASE + UID_RANGE)
    expect(idmapsLowers({storage: 'overlay', privateUsers: true, uidBase: base})).toBe(true)
    expect(idmapsLowers({storage: 'copy', privateUsers: true, uidBase: base})).toBe(false)
    expect(idmapsLowers({storage: 'overlay', privateUsers: true})).toBe(false)
  })
})
