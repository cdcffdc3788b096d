/** ctr rm on what is not a whole container: a damaged record, and what a killed rm left hidden. */
import {existsSync} from 'node:fs'
import {mkdir, readdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {beforeEach, describe, expect, it} from 'vitest'
import {REMOVING_PREFIX, removeContainers} from '../../../src/containers/remove.js'
import {listContainerEntries} from '../../../src/store/containers.js'
import {containerPaths, layout} from '../../../src/store/paths.js'
import {useTempDirs} from '../../helpers/temp.js'

describe('removeContainers', () => {
  const tempDir = useTempDirs('ctr-rm-')
  let root: string
  beforeEach(async () => {
    root = await tempDir()
    const paths = containerPaths(root, 'mid')
    await mkdir(join(paths.upper, 'root'), {recursive: true})
    await writeFile(join(paths.upper, 'root', 'notes'), 'kept until rm\n')
    await writeFile(paths.record, '{"name": "mid", "ports": 7')
  })

  it('removes a container whose record is damaged (the way out the error names)', async () => {
    expect(await listContainerEntries(root)).toEqual([{name: 'mid', damaged: expect.stringMatching(/^invalid JSON/)}])
    expect(await removeContainers(root, ['mid'])).toEqual([{name: 'mid', removed: true}])
    expect(await readdir(layout(root).containers)).toEqual([])
  })

  it('a name with no record is NOT_FOUND, and nothing is touched', async () => {
    const [report] = await removeContainers(root, ['nope'])
    expect(report).toMatchObject({name: 'nope', removed: false, error: {code: 'NOT_FOUND', message: 'no container named nope'}})
    expect(existsSync(containerPaths(root, 'mid').record)).toBe(true)
  })

  it("finishes what a killed rm left hidden, and leaves a live one's alone", async () => {
    const containers = layout(root).containers
    // pid 2^22+1 is above pid_max's default: no such process.
    const dead = join(containers, `${REMOVING_PREFIX}old-4194305-abc`)
    const live = join(containers, `${REMOVING_PREFIX}busy-${process.ppid}-abc`)
    for (const dir of [dead, live]) await mkdir(join(dir, 'upper'), {recursive: true})
    expect((await listContainerEntries(root)).map((e) => e.name)).toEqual(['mid'])
    await removeContainers(root, ['mid'])
    expect(existsSync(dead)).toBe(false)
    expect(existsSync(live)).toBe(true)
    expect(await readdir(containers)).toEqual([`${REMOVING_PREFIX}busy-${process.ppid}-abc`])
  })
})
