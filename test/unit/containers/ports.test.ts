import {describe, expect, it} from 'vitest'
import {parsePortSpec} from '../../../src/containers/ports.js'
import {sockaddr} from '../../../src/sys/socket.js'

describe('parsePortSpec: odd addresses are refused here, in one line, not later by the activator', () => {
  it.each([
    ['23', {port: 23}],
    ['127.0.0.1:2222', {address: '127.0.0.1', port: 2222}],
    ['[::1]:2222', {address: '::1', port: 2222}],
    ['[1::]:22', {address: '1::', port: 22}],
    ['0.0.0.0:80', {address: '0.0.0.0', port: 80}],
  ])('reads %j, and the activator can bind what it read', (spec, expected) => {
    const parsed = parsePortSpec(spec)
    expect(parsed).toEqual(expected)
    if (parsed.address) expect(() => sockaddr(parsed.address!, parsed.port)).not.toThrow()
  })

  it.each([
    ['fe80::1%eth0', /a zone \(%IFACE\) is not supported/],
    ['[fe80::1%eth0]:22', /a zone \(%IFACE\) is not supported/],
    ['[::1]', /an address without a port/],
    ['::1', /an IPv6 address needs brackets/],
    ['::1:22', /an IPv6 address needs brackets/],
    ['::ffff:127.0.0.1', /an IPv6 address needs brackets/],
    ['[::ffff:127.0.0.1]:22', /an IPv4-mapped IPv6 address/],
    ['[::ffff:7f00:1]:22', /an IPv4-mapped IPv6 address/],
    ['999.1.1.1:22', /not an IPv4 or IPv6 address/],
    ['01.2.3.4:22', /not an IPv4 or IPv6 address/],
    ['host:22', /not an IPv4 or IPv6 address/],
    ['[nope]:22', /not an IPv4 or IPv6 address/],
    ['[]:22', /not an IPv4 or IPv6 address/],
    ['[127.0.0.1]:22', /brackets are for IPv6 only/],
    ['', /an empty port/],
    [' ', /an empty port/],
    [':22', /invalid port ":22"/],
    ['1.2.3.4:', /invalid port ""/],
    ['999.1.1.1', /invalid port/],
    ['0', /invalid port/],
    ['65536', /invalid port/],
  ])('refuses %j with INVALID_ARGUMENT, one line and a hint', (spec, message) => {
    let error: unknown
    try {
      parsePortSpec(spec)
    } catch (e) {
      error = e
    }
    expect(error).toMatchObject({code: 'INVALID_ARGUMENT', exitCode: 2, name: 'CtrError'})
    const e = error as {message: string; hints: string[]}
    expect(e.message).toMatch(message)
    expect(e.message).not.toContain('\n')
    expect(e.hints.length).toBeGreaterThan(0)
  })

  it('the zone that used to pass validation is what sockaddr fails on with a plain Error', () => {
    expect(() => sockaddr('fe80::1%eth0', 22)).toThrow(/not an IP address/)
  })
})
