import {describe, expect, it} from 'vitest'
import {parsePortSpec} from '../../src/containers/ports.js'
import {pickName, validateName} from '../../src/names.js'

describe('container names', () => {
  it.each(['a', 'web1', 'x-y-z', '0abc', 'a'.repeat(63)])('accepts %s', (name) => {
    expect(validateName(name)).toBe(name)
  })
  it.each(['', '-a', 'Web', 'a_b', 'a.b', 'a'.repeat(64), '../etc', 'a b'])('rejects %j with INVALID_NAME', (name) => {
    expect(() => validateName(name)).toThrow(expect.objectContaining({code: 'INVALID_NAME', exitCode: 2}))
  })
  it('picks the first free DISTRO-N', () => {
    expect(pickName('debian', new Set(['debian-1', 'debian-3']))).toBe('debian-2')
  })
})

describe('port specs', () => {
  it('reads PORT, IPV4:PORT and [IPV6]:PORT', () => {
    expect(parsePortSpec('23')).toEqual({port: 23})
    expect(parsePortSpec('127.0.0.1:2222')).toEqual({address: '127.0.0.1', port: 2222})
    expect(parsePortSpec('[::1]:2222')).toEqual({address: '::1', port: 2222})
  })
  it.each(['0', '65536', 'x', '-1', '1.5', 'host:22', '[nope]:22'])('rejects %j', (spec) => {
    expect(() => parsePortSpec(spec)).toThrow(expect.objectContaining({code: 'INVALID_ARGUMENT'}))
  })
})
