/** ctr logs: the journalctl argv (-o json for --json) and how a journal that is not there yet is told. */
import {mkdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {hasJournal, journalArgv} from '../../src/containers/logs.js'
import {useTempDirs} from '../helpers/temp.js'

describe('ctr logs', () => {
  const tempDir = useTempDirs()

  it('asks journalctl for JSON lines under --json', () => {
    expect(journalArgv('/j', {lines: 3, json: true})).toEqual(['journalctl', '-D', '/j', '--no-pager', '-q', '-n', '3', '-o', 'json'])
    expect(journalArgv('/j', {lines: 3, json: true, follow: true}).slice(-3)).toEqual(['-o', 'json', '-f'])
    expect(journalArgv('/j', {lines: 3})).not.toContain('-o')
  })

  it('an empty var/log/journal (as the base has it) is no journal; MACHINE-ID/system.journal is', async () => {
    const dir = await tempDir()
    expect(await hasJournal(join(dir, 'missing'))).toBe(false)
    expect(await hasJournal(dir)).toBe(false)
    await mkdir(join(dir, '0123abcd'))
    expect(await hasJournal(dir)).toBe(false)
    await writeFile(join(dir, '0123abcd', 'system.journal'), '')
    expect(await hasJournal(dir)).toBe(true)
  })
})
