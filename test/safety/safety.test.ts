/**
 * npm run test:safety (also part of npm test): issue 9's hostile inputs, hostile archives and
 * trees, full disks and killed commands, each run against the real built CLI around a sentinel
 * tree; every case asserts its exit code, a one-line message, and that nothing outside the state
 * root changed. Ends with a summary printed for the CI log.
 */
import {mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, inject, it} from 'vitest'
import {restoreNobodyPaths} from '../helpers/nobody.js'
import {destroyRoot} from '../helpers/cleanup.js'
import {makeKeyPair} from '../helpers/ssh.js'
import {skipReason} from '../helpers/roots.js'
import {archiveCases} from './archive-cases.js'
import {BASE_ID, type Context, type Group} from './context.js'
import {diskCases} from './disk-cases.js'
import {differences, runCase, Sentinel, summary, watchedPaths} from './harness.js'
import {flagCases, imageIdCases, keyCases, nameCases, portCases, releaseCases} from './inputs.js'
import {stateCases} from './state-cases.js'
import {treeCases} from './tree-cases.js'

const reason = skipReason()
if (reason) console.warn(`test/safety/safety.test.ts: ${reason}`)

const cache = inject('ctrTestCache')
// Laid at collection, since the cases name its paths; removed in afterAll.
const s = reason ? undefined : await Sentinel.lay()
const work = reason ? '' : await mkdtemp('/var/tmp/ctr-safety-work-')
const keys = reason ? undefined : await makeKeyPair()
const ctx: Context | undefined = s && keys ? {s, P: s.P, root: s.root, work, cache, baseTar: join(work, 'base.tar'), keys} : undefined

const groups: Group[] = ctx
  ? [nameCases(ctx), releaseCases(ctx), imageIdCases(ctx), portCases(ctx), flagCases(ctx), keyCases(ctx), archiveCases(ctx), treeCases(ctx), diskCases(ctx), stateCases(ctx)]
  : []

describe.skipIf(reason)('safety: hostile input, full disks and killed commands touch nothing outside the state root', () => {
  beforeAll(async () => {
    const {cachedBase} = await import('../helpers/roots.js')
    await cachedBase()
    // The CLI tests run dist/: build what is there now (type errors of work in progress do not stop tsc emitting).
    const build = await execa('npm', ['run', 'build'], {reject: false})
    if (build.exitCode !== 0) console.warn(`npm run build: exit ${build.exitCode}\n${build.stdout.split('\n').slice(-8).join('\n')}`)
    // The shared cached base is linked into roots: watched (read only) like the host's paths.
    watchedPaths.push(join(cache, 'images', BASE_ID, 'image.json'), join(cache, 'images', BASE_ID, 'tree', 'etc'), join(cache, 'images', BASE_ID, 'tree', 'root'))
    const exported = await execa('bin/ctr', ['images', 'export', BASE_ID, '-o', ctx!.baseTar, '--root', cache], {reject: false})
    if (exported.exitCode !== 0) throw new Error(`exporting the cached base failed: ${exported.stderr}`)
  }, 600_000)

  afterAll(async () => {
    await restoreNobodyPaths()
    console.log(summary())
    if (s) {
      await destroyRoot(s.root).catch(() => {})
      await s.destroy()
    }
    if (work) await rm(work, {recursive: true, force: true})
    if (keys) await rm(keys.dir, {recursive: true, force: true})
  }, 300_000)

  // The sentinel itself: a write outside the root, and a file made and removed again, are both seen.
  it('the sentinel sees a write beside the root and a lock file made and removed', async () => {
    const before = await s!.sum()
    await writeFile(join(s!.P, 'victim.lock'), '')
    await rm(join(s!.P, 'victim.lock'))
    const touched = differences(before, await s!.sum())
    expect(touched.some((d) => d.startsWith(`${s!.P}:`))).toBe(true)
    const content = await readFile(join(s!.P, 'sibling', 'file'))
    await writeFile(join(s!.P, 'sibling', 'file'), 'changed\n')
    expect(differences(before, await s!.sum()).some((d) => d.startsWith(join(s!.P, 'sibling', 'file')))).toBe(true)
    await writeFile(join(s!.P, 'sibling', 'file'), content)
  })

  for (const group of groups) {
    describe(group.name, () => {
      if (group.before) beforeAll(group.before, 300_000)
      if (group.after) afterAll(group.after, 300_000)
      for (const c of group.cases) {
        it(c.name, async () => {
          expect(await runCase(s!, group.name, c)).toEqual([])
        }, (c.timeoutMs ?? 60_000) * 2 + 60_000)
      }
    })
  }
})
