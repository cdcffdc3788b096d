/** The pure part of --network veth (src/network/veth.ts): ranges, allocation, names, the ruleset. */
import {describe, expect, it} from 'vitest'
import {nspawnArgv} from '../../src/nspawn/argv.js'
import {allocateAddress, hostIfname, natRuleset, natTable, parseRange, vethPair} from '../../src/network/veth.js'

describe('veth addresses and names', () => {
  it('allocates the lowest free /30 of the range, its second address, and says when none is left', () => {
    expect(allocateAddress([], '10.213.0.0/16')).toBe('10.213.0.2')
    expect(allocateAddress(['10.213.0.2', '10.213.0.10'], '10.213.0.0/16')).toBe('10.213.0.6')
    expect(allocateAddress(['10.9.9.2'], '10.9.9.0/29')).toBe('10.9.9.6')
    expect(() => allocateAddress(['10.9.9.2', '10.9.9.6'], '10.9.9.0/29')).toThrow(/no veth address is left/)
    expect(vethPair('10.213.0.6')).toEqual({address: '10.213.0.6', gateway: '10.213.0.5', prefix: 30})
  })

  it('takes a range as A.B.C.D/N and refuses anything else with one line', () => {
    expect(parseRange('10.213.7.9/16')).toEqual({first: (10 << 24) + (213 << 16), size: 65536})
    for (const bad of ['10.213.0.0', '10.213.0.0/30', '10.300.0.0/16', 'x/8']) expect(() => parseRange(bad), bad).toThrow(/CTR_VETH_RANGE must be an IPv4 range/)
  })

  it("names the host's end within 15 characters, per root and container", () => {
    const name = hostIfname('/var/lib/ctr', 'a-very-long-container-name-of-sixty-three-characters-at-most-xx')
    expect(name.length).toBeLessThanOrEqual(15)
    expect(hostIfname('/var/lib/ctr', 'web')).not.toBe(hostIfname('/var/lib/other', 'web'))
  })

  it('runs nspawn inside the namespace ctr made, with no network option of its own', () => {
    const argv = nspawnArgv({tree: '/r/containers/web/rootfs', machine: 'web', hostHasSystemd: false, network: 'veth', netns: '/r/containers/web/netns'})
    expect(argv.slice(0, 4)).toEqual(['nsenter', '--net=/r/containers/web/netns', '--', 'systemd-nspawn'])
    expect(argv.filter((a) => a.startsWith('--network') || a === '--private-network')).toEqual([])
    // The host's network ignores the file.
    expect(nspawnArgv({tree: '/t', machine: 'web', hostHasSystemd: false, network: 'host', netns: '/n'})[0]).toBe('systemd-nspawn')
  })

  it('the NAT table: masquerade out, replies in, nothing else in, nothing between containers, and with the guard nothing else forwarded', () => {
    const rules = natRuleset(natTable('/var/lib/ctr'), false)
    expect(rules.split('\n')[0]).toBe(`table ip ${natTable('/var/lib/ctr')} {`)
    expect(rules).toContain('ip saddr @containers ip daddr != @containers masquerade')
    expect(rules).toContain('ip daddr @containers ct state established,related accept')
    expect(rules).toMatch(/ip daddr @containers drop/)
    expect(rules).not.toContain('ip saddr != @containers drop')
    const guarded = natRuleset(natTable('/var/lib/ctr'), true).split('\n')
    // Last in the chain: replies to containers are let through before it.
    expect(guarded.indexOf('    ip saddr != @containers drop')).toBe(guarded.indexOf('    ip daddr @containers drop') + 1)
  })

  it("skips a /30 that one of the host's addresses is in", () => {
    expect(allocateAddress(['10.213.0.1', '10.213.0.6'], '10.213.0.0/16')).toBe('10.213.0.10')
  })
})
