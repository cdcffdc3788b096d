import {describe, expect, it} from 'vitest'
import {formatNames, formatTable} from '../../../src/ui/table.js'
import {NOW, containers, report} from './fixtures.js'

describe('formatTable', () => {
  it('shows every column uncut when the width is unlimited (a pipe)', () => {
    const text = formatTable(report(), {now: NOW})
    const [header, ...rows] = text.trimEnd().split('\n')
    expect(header.split(/\s{2,}/)).toEqual(['NAME', 'DISTRO', 'NET', 'STATE', 'PORTS', 'CONN', 'WAKES', 'LAST WAKE', 'UP', 'MEM', 'CPU', 'PIDS', 'IDLE'])
    expect(rows).toHaveLength(containers.length)
    expect(rows[0]).toMatch(/^web\s+debian 12\s+private\s+running\s+\*:2201\/ssh\s+2\s+7\s+3m00s ago in 840ms\s+3m00s\s+23\.4M\s+12\.5s\s+9\s+in use$/)
    expect(rows[1]).toMatch(/41\.0M\s+1m15s\s+14\s+4m10s$/)
    expect(rows[1]).toContain('1h00m ago in 1.25s')
    expect(rows[1]).toMatch(/4m10s$/)
    expect(rows[4]).toContain('listening (idle)')
    expect(rows[5]).toMatch(/^old\s+fedora 41\s+host\s+stopped \(user\)\s+-/)
  })

  it('fits 80 and 60 columns by shrinking, then dropping the least useful columns', () => {
    for (const width of [80, 60, 40]) {
      const lines = formatTable(report(), {width, now: NOW}).trimEnd().split('\n')
      for (const line of lines) expect(line.length).toBeLessThanOrEqual(width)
      expect(lines[0]).toMatch(/^NAME/)
      expect(lines[0]).toContain('STATE')
      expect(lines[0]).toContain('PORTS')
    }
    const at80 = formatTable(report(), {width: 80, now: NOW}).split('\n')[0]
    expect(at80).not.toContain('WAKES')
    expect(at80).toContain('MEM')
    const at60 = formatTable(report(), {width: 60, now: NOW}).split('\n')[0]
    expect(at60).toContain('MEM')
    expect(at60).not.toContain('DISTRO')
  })

  it('says how to begin when there are no containers', () => {
    expect(formatTable(report(true, []))).toMatch(/no containers.*ctr create/)
  })

  it('lists names only for -q', () => {
    expect(formatNames(report())).toBe('web\ndb\ncache\nqueue\nidler\nold\n')
  })
})
