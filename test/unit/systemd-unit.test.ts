import {describe, expect, it} from 'vitest'
import {hasRestartJob, ownUnit} from '../../src/activator/systemd-unit.js'

describe('the activator as a systemd service', () => {
  it('knows its unit from its cgroup, only when systemd started it as a service', () => {
    const hybrid = new Map([['name=systemd', '/system.slice/ctr-activator.service'], ['', '/system.slice/ctr-activator.service']])
    expect(ownUnit({INVOCATION_ID: 'abc'}, hybrid)).toBe('ctr-activator.service')
    expect(ownUnit({INVOCATION_ID: 'abc'}, new Map([['', '/system.slice/ctr-activator.service']]))).toBe('ctr-activator.service')
    expect(ownUnit({}, hybrid)).toBeUndefined()
    expect(ownUnit({INVOCATION_ID: 'abc'}, new Map([['', '/user.slice/session-1.scope']]))).toBeUndefined()
  })

  it("tells the stop half of a restart from a stop by the unit's job in systemctl list-jobs", () => {
    const jobs = '1234 ctr-activator.service restart running\n1235 other.service start waiting\n'
    expect(hasRestartJob(jobs, 'ctr-activator.service')).toBe(true)
    expect(hasRestartJob('1234 ctr-activator.service stop running\n', 'ctr-activator.service')).toBe(false)
    expect(hasRestartJob(jobs, 'other.service')).toBe(false)
    expect(hasRestartJob('', 'ctr-activator.service')).toBe(false)
  })
})
