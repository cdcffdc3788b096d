import {describe, expect, it} from 'vitest'
import {REBOOT_POLICY, afterExit, afterReboot, describeExit, rebootLoopMessage} from '../../../src/activator/transitions.js'

describe('after nspawn exits', () => {
  it('boots again at once on a first exit 133 (reboot)', () => {
    expect(afterExit({code: 133, signal: null, served: true})).toEqual({next: 'boot', delayMs: 0, quickReboots: 1})
    expect(afterExit({code: 133, signal: null, served: true, ranMs: 5 * 60_000, quickReboots: 6})).toEqual({next: 'boot', delayMs: 0, quickReboots: 0})
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

describe('reboot loops (exit 133 again and again)', () => {
  it('are slowed down: at once, then 1, 2, 4, 8, 16, 30 s; the 8th quick reboot in a row is not booted', () => {
    const decisions = []
    let quick = 0
    for (let i = 0; i < 8; i++) {
      const d = afterReboot(200, quick)
      decisions.push(d)
      quick = d.quickReboots
    }
    expect(decisions.map((d) => (d.next === 'boot' ? d.delayMs : d.next))).toEqual([0, 1000, 2000, 4000, 8000, 16_000, 30_000, 'watch'])
    expect(decisions.at(-1)).toEqual({next: 'watch', reason: 'reboot-loop', quickReboots: 8})
  })

  it('a reboot after a long run is not part of a loop: at once, and the count starts again', () => {
    expect(afterReboot(REBOOT_POLICY.quickMs, 7)).toEqual({next: 'boot', delayMs: 0, quickReboots: 0})
    expect(afterReboot(REBOOT_POLICY.quickMs - 1, 0)).toEqual({next: 'boot', delayMs: 0, quickReboots: 1})
  })

  it('follows the policy it is given (the cap holds however long the loop)', () => {
    const policy = {quickMs: 1000, firstDelayMs: 10, maxDelayMs: 25, limit: 100}
    expect([1, 2, 3, 4, 50].map((before) => afterReboot(5, before, policy))).toEqual([
      {next: 'boot', delayMs: 10, quickReboots: 2},
      {next: 'boot', delayMs: 20, quickReboots: 3},
      {next: 'boot', delayMs: 25, quickReboots: 4},
      {next: 'boot', delayMs: 25, quickReboots: 5},
      {next: 'boot', delayMs: 25, quickReboots: 51},
    ])
    expect(afterReboot(5, 2, {...policy, limit: 3})).toEqual({next: 'watch', reason: 'reboot-loop', quickReboots: 3})
  })

  it('leaves the container listening with the reason, and closes the connections that woke it', () => {
    expect(afterExit({code: 133, signal: null, served: true, ranMs: 300, quickReboots: 7})).toEqual({next: 'watch', reason: 'reboot-loop', dropQueued: true, quickReboots: 8})
    expect(rebootLoopMessage(8)).toBe('rebooted 8 times in a row, each within 60 s of booting: left listening, the next connection boots it again')
  })

  it('a stop the activator asked for still wins over a reboot loop', () => {
    expect(afterExit({code: 133, signal: null, served: true, ranMs: 300, quickReboots: 7, stopRequest: {keepPorts: false, reason: 'user'}})).toEqual({next: 'release', reason: 'user'})
  })
})
