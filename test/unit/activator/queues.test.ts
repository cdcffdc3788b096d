import {describe, expect, it} from 'vitest'
import {ContainerQueues} from '../../../src/activator/queues.js'

const queues = () => new ContainerQueues({ready: Promise.resolve(), gate: () => {}})

describe('per-container queues', () => {
  it('runs one container\'s operations one after another, and other containers\' alongside', async () => {
    const q = queues()
    const order: string[] = []
    const slow = q.run('a', async () => {
      await new Promise((r) => setTimeout(r, 50))
      order.push('a1')
    })
    const next = q.run('a', async () => order.push('a2'))
    const other = q.run('b', async () => order.push('b1'))
    await Promise.all([slow, next, other])
    expect(order).toEqual(['b1', 'a1', 'a2'])
  })

  it('a kept queue answers at once and holds what comes after it until released', async () => {
    const q = queues()
    const order: string[] = []
    expect(await q.keep('a', async () => 'checked', 60_000, () => q.release('a'))).toBe('checked')
    expect(q.isKept('a')).toBe(true)
    const after = q.run('a', async () => order.push('after'))
    await new Promise((r) => setTimeout(r, 30))
    expect(order).toEqual([])
    q.release('a')
    await after
    expect(order).toEqual(['after'])
    expect(q.isKept('a')).toBe(false)
  })

  it('a keep whose first step fails refuses and keeps nothing; one never released expires', async () => {
    const q = queues()
    await expect(q.keep('a', async () => Promise.reject(new Error('running')), 60_000, () => {})).rejects.toThrow('running')
    expect(q.isKept('a')).toBe(false)
    await q.run('a', async () => {})
    let expired = false
    await q.keep('b', async () => 1, 40, () => {
      expired = true
      q.release('b')
    })
    await q.run('b', async () => {})
    expect(expired).toBe(true)
  })
})
