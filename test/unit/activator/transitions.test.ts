import {describe, expect, it} from 'vitest'
import {afterExit, describeExit} from '../../../src/activator/transitions.js'

describe('after nspawn exits', () => {
  it('boots again at once on exit 133 (reboot)', () => {
    expect(afterExit({code: 133, signal: null, served: true})).toEqual({next: 'boot'})
  })

  it('holds and watches again after a poweroff from inside', () => {
    expect(afterExit({code: 0, signal: null, served: true})).toEqual({next: 'watch', reason: 'exited', dropQueued: false})
  })

  it('follows a stop the activator asked for: release, or keep the ports held', () => {
    expect(afterExit({code: 0, signal: null, served: true, stopRequest: {keepPorts: false, reason: 'user'}})).toEqual({next: 'release', reason: 'user'})
    expect(afterExit({code: null, signal: 'SIGKILL', served: true, stopRequest: {keepPorts: true, reason: 'idle'}})).toEqual({
      next: 'watch',
      reason: 'idle',
      dropQueued: false,
    })
    // A requested stop wins over a reboot that raced with it.
    expect(afterExit({code: 133, signal: null, served: true, stopRequest: {keepPorts: true, reason: 'user'}}).next).toBe('watch')
  })

  it('a failure before serving is a boot failure: ports stay held, queued connections are closed', () => {
    expect(afterExit({code: 1, signal: null, served: false})).toEqual({next: 'watch', reason: 'boot-failed', dropQueued: true})
  })

  it('a failure after serving is a crash: ports stay held', () => {
    expect(afterExit({code: null, signal: 'SIGKILL', served: true})).toEqual({next: 'watch', reason: 'crashed', dropQueued: false})
  })

  it('describes exits', () => {
    expect(describeExit(1, null)).toBe('exit 1')
    expect(describeExit(133, null)).toBe('exit 133 (reboot)')
    expect(describeExit(null, 'SIGKILL')).toBe('killed by SIGKILL')
  })
})
