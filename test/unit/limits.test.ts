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

  it('--private-users is a picked range with the tree idmapped (never chowned); only a --copy may have it', async () => {
    const argv = nspawnArgv({tree: '/t', machine: 'a', hostHasSystemd: false, privateUsers: true})
    expect(argv).toEqual(expect.arrayContaining(['--private-users=pick', '--private-users-ownership=map']))
    expect(nspawnArgv({tree: '/t', machine: 'a', hostHasSystemd: false}).some((a) => a.startsWith('--private-users'))).toBe(false)
    const record = {name: 'a', distro: 'debian', release: 'bookworm', image: 'i', storage: 'copy', profile: 'lean', createdAt: 'now', ports: [], idleTimeoutSec: 0}
    expect(checkRecord('a', JSON.stringify({...record, privateUsers: true}))).toMatchObject({privateUsers: true})
    expect(checkRecord('a', JSON.stringify({...record, privateUsers: 'yes'}))).toMatch(/privateUsers/)
    const {requireIdmappable} = await import('../../src/containers/create.js')
    expect(() => requireIdmappable('copy')).not.toThrow()
    expect(() => requireIdmappable('overlay')).toThrow(/needs a --copy container/)
  })
})
