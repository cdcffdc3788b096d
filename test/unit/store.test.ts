import {mkdtemp, readFile, readdir, rm} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {execa} from 'execa'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {writeJsonAtomic} from '../../src/store/atomic.js'
import {listContainers, writeContainer, type ContainerRecord} from '../../src/store/containers.js'
import {withLock} from '../../src/store/lock.js'
import {containerPaths, stateRoot} from '../../src/store/paths.js'
import {mkdir} from 'node:fs/promises'

let root: string
beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'ctr-store-'))
})
afterEach(() => rm(root, {recursive: true, force: true}))

const record = (name: string): ContainerRecord => ({
  name,
  distro: 'debian',
  release: 'bookworm',
  image: 'debian-bookworm',
  storage: 'overlay',
  profile: 'full',
  createdAt: '2026-11-29T00:00:00.000Z',
  ports: [],
  idleTimeoutSec: 0,
})

describe('state root', () => {
  it('is /var/lib/ctr unless --root or CTR_ROOT says otherwise', () => {
    const saved = process.env.CTR_ROOT
    delete process.env.CTR_ROOT
    expect(stateRoot()).toBe('/var/lib/ctr')
    process.env.CTR_ROOT = '/srv/ctr'
    expect(stateRoot()).toBe('/srv/ctr')
    expect(stateRoot('/tmp/x')).toBe('/tmp/x')
    if (saved === undefined) delete process.env.CTR_ROOT
    else process.env.CTR_ROOT = saved
  })
})

describe('records', () => {
  it('lists only containers with a complete record, sorted', async () => {
    await writeContainer(root, record('b'))
    await writeContainer(root, record('a'))
    await mkdir(containerPaths(root, 'half-made').dir, {recursive: true})
    expect((await listContainers(root)).map((c) => c.name)).toEqual(['a', 'b'])
  })

  it('writes atomically: no temp files left, content whole', async () => {
    const file = join(root, 'x.json')
    await Promise.all(Array.from({length: 20}, (_, i) => writeJsonAtomic(file, {i, pad: 'x'.repeat(10_000)})))
    expect(JSON.parse(await readFile(file, 'utf8')).pad).toHaveLength(10_000)
    expect(await readdir(root)).toEqual(['x.json'])
  })
})

describe('lock', () => {
  it('serializes callers in one process and lets a holder take it again', async () => {
    const lock = join(root, '.lock')
    const events: string[] = []
    await Promise.all(
      [1, 2, 3].map((n) =>
        withLock(lock, async () => {
          events.push(`in${n}`)
          await sleep(20)
          await withLock(lock, async () => events.push(`nested${n}`))
          events.push(`out${n}`)
        }),
      ),
    )
    expect(events).toEqual(['in1', 'nested1', 'out1', 'in2', 'nested2', 'out2', 'in3', 'nested3', 'out3'])
  })

  it('excludes another process (flock), and is freed when that process dies', async () => {
    const lock = join(root, '.lock')
    // flock(1) holds the same kind of lock as ctr for 1.5 s in another process.
    const other = execa('flock', [lock, 'sleep', '1.5'])
    await sleep(300)
    const started = Date.now()
    await withLock(lock, async () => {})
    expect(Date.now() - started).toBeGreaterThan(900)
    await other
  })
})
