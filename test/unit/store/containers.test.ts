/**
 * One damaged container record (invalid JSON, a wrong shape, unreadable) used to surface as a bare
 * SyntaxError from every command that lists containers. It is one broken container now: listed as
 * such with the reason, beside the others, and a command naming it says so in one line.
 */
import {mkdir, writeFile} from 'node:fs/promises'
import {beforeEach, describe, expect, it} from 'vitest'
import {Activator} from '../../../src/activator/activator.js'
import {getStatus} from '../../../src/status/collect.js'
import {checkRecord, getContainer, listContainerEntries, listContainers, readContainer, writeContainer, type ContainerRecord} from '../../../src/store/containers.js'
import {containerPaths} from '../../../src/store/paths.js'
import {formatNames, formatTable} from '../../../src/ui/table.js'
import {useTempDirs} from '../../helpers/temp.js'

const record = (name: string, fields: Partial<ContainerRecord> = {}): ContainerRecord => ({
  name,
  distro: 'debian',
  release: 'bookworm',
  image: 'debian-bookworm',
  storage: 'overlay',
  profile: 'lean',
  createdAt: '2026-11-29T00:00:00.000Z',
  ports: [{port: 2222, service: 'ssh'}],
  idleTimeoutSec: 0,
  ...fields,
})

async function writeRaw(root: string, name: string, text: string): Promise<void> {
  await mkdir(containerPaths(root, name).dir, {recursive: true})
  await writeFile(containerPaths(root, name).record, text)
}

describe('a damaged container record', () => {
  const tempDir = useTempDirs('ctr-records-')
  let root: string
  beforeEach(async () => {
    root = await tempDir()
    await writeContainer(root, record('alpha'))
    await writeContainer(root, record('omega'))
    await writeRaw(root, 'mid', '{"name": "mid", "distro": ')
  })

  it('is listed as broken with the reason, between the others', async () => {
    const entries = await listContainerEntries(root)
    expect(entries.map((e) => e.name)).toEqual(['alpha', 'mid', 'omega'])
    expect(entries[1]).toEqual({name: 'mid', damaged: expect.stringMatching(/^invalid JSON: /)})
    // Callers that need whole records get the others, never a SyntaxError.
    expect((await listContainers(root)).map((c) => c.name)).toEqual(['alpha', 'omega'])
  })

  it('a command naming it gets one line, DAMAGED, with the way out', async () => {
    for (const read of [() => readContainer(root, 'mid'), () => getContainer(root, 'mid')]) {
      const error = await read().catch((e: unknown) => e)
      expect(error).toMatchObject({name: 'CtrError', code: 'DAMAGED', exitCode: 1})
      const e = error as {message: string; hints: string[]}
      expect(e.message).toMatch(/^mid's record is damaged \(invalid JSON: [^\n]+\)$/)
      expect(e.hints[0]).toBe('ctr rm mid removes it; or mend containers/mid/container.json by hand')
    }
    // A name with no record at all is still NOT_FOUND, and the broken one is among the known.
    await expect(getContainer(root, 'nope')).rejects.toMatchObject({code: 'NOT_FOUND', hints: ['known containers: alpha, mid, omega']})
  })

  it('ctr ls without the activator: a broken row with the reason, the others as usual', async () => {
    const report = await getStatus(root)
    expect(report.live).toBe(false)
    expect(report.containers.map((c) => [c.name, c.state])).toEqual([
      ['alpha', 'stopped'],
      ['mid', 'broken'],
      ['omega', 'stopped'],
    ])
    expect(report.containers[1]).toMatchObject({ports: [], lastError: expect.stringMatching(/^invalid JSON/)})
    const table = formatTable(report, {now: 0})
    expect(table).toMatch(/^mid\s+host\s+broken \(invalid JSON: .+\)\s+-/m)
    expect(table).toMatch(/^alpha\s+debian bookworm\s+host\s+stopped\s+\*:2222\/ssh/m)
    // On a narrow terminal the reason is what gives way: STATE shrinks to "broken".
    expect(formatTable(report, {now: 0, width: 60})).toMatch(/^mid\s+broken\s+-/m)
    expect(formatNames(report)).toBe('alpha\nmid\nomega\n')
  })

  it('ctr ls from the activator (its own sequential read): the same broken row', async () => {
    const activator = new Activator({root})
    try {
      const report = await activator.status()
      expect(report.live).toBe(true)
      expect(report.containers.map((c) => [c.name, c.state])).toEqual([
        ['alpha', 'stopped'],
        ['mid', 'broken'],
        ['omega', 'stopped'],
      ])
      expect(report.containers[1].lastError).toMatch(/^invalid JSON/)
    } finally {
      await activator.shutdown()
    }
  })

  it('an unreadable record (a directory in its place) is broken too, not a crash', async () => {
    await mkdir(containerPaths(root, 'dir').record, {recursive: true})
    const entry = (await listContainerEntries(root)).find((e) => e.name === 'dir')
    expect(entry).toEqual({name: 'dir', damaged: 'cannot read it: EISDIR'})
  })
})

describe('checkRecord: the shape of a record, field by field', () => {
  const good = record('web')
  const text = (fields: Record<string, unknown>) => JSON.stringify({...good, ...fields})

  it('takes a whole record', () => {
    expect(checkRecord('web', JSON.stringify(good))).toEqual(good)
    expect(checkRecord('web', text({ports: [{port: 80, service: 'http', address: '127.0.0.1'}]}))).toMatchObject({ports: [{address: '127.0.0.1'}]})
  })

  it.each([
    ['', /^invalid JSON: /],
    ['[]', 'not a JSON object but a list'],
    ['null', 'not a JSON object but null'],
    ['42', 'not a JSON object but number'],
    [text({name: 'other'}), 'it names "other", not "web"'],
    [text({image: 7}), 'image is 7, not a text'],
    [text({distro: undefined}), 'distro is missing, not a text'],
    [text({storage: 'zfs'}), 'storage is "zfs", not "overlay" or "copy"'],
    [text({ports: 'x'}), 'ports is "x", not a list'],
    [text({ports: [{port: 0, service: 'ssh'}]}), 'ports[0] is not {port, service, address?}'],
    [text({ports: [{port: 22}]}), 'ports[0] is not {port, service, address?}'],
    [text({idleTimeoutSec: -1}), 'idleTimeoutSec is -1, not a whole number of seconds'],
    [text({profile: 'x'.repeat(40)}), undefined],
  ])('%s -> %s', (input, expected) => {
    const result = checkRecord('web', input)
    if (expected === undefined) expect(typeof result).toBe('object')
    else if (typeof expected === 'string') expect(result).toBe(expected)
    else expect(result).toMatch(expected)
  })
})

