/**
 * npm run test:faults (also part of npm test): issue 10's promise, that no connection attempt ever
 * fails, held against the activator restarting, upgrading and crashing, against SIGKILLs of
 * nspawn, of a container's init, of create and of images import, and under load across sleep and
 * wake; all with the real tools and the real CLI. Ends with a summary printed for the CI log.
 */
import {execa} from 'execa'
import {afterAll, beforeAll, describe} from 'vitest'
import {cachedBase, skipReason} from '../helpers/roots.js'
import {killCases} from './kill-cases.js'
import {loadCases} from './load-cases.js'
import {restartCases} from './restart-cases.js'
import {summary} from './tally.js'
import {REPO} from './upgrade.js'

const reason = skipReason()
if (reason) console.warn(`test/faults/faults.test.ts: ${reason}`)

describe.skipIf(reason)('faults: the ports stay connectable and the containers single through restarts, crashes and kills', () => {
  beforeAll(async () => {
    await cachedBase()
    // The CLI runs dist/: build what is there now (type errors of work in progress do not stop tsc emitting).
    const build = await execa('npm', ['run', 'build'], {cwd: REPO, reject: false})
    if (build.exitCode !== 0) console.warn(`npm run build: exit ${build.exitCode}\n${build.stdout.split('\n').slice(-8).join('\n')}`)
  }, 600_000)

  afterAll(() => {
    console.log(summary())
  })

  restartCases()
  killCases()
  loadCases()
})
