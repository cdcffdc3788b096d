import {spawn, spawnSync} from 'node:child_process'
import {existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync} from 'node:fs'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {processStartTime} from '../../../src/activator/proc.js'
import {liveSessions, openSession, sessionsDir} from '../../../src/activator/sessions.js'

/** The pid of a process that has run and exited (reaped): no process has it now. */
function deadPid(): number {
  const result = spawnSync('sh', ['-c', 'echo $$'], {encoding: 'utf8'})
  const pid = Number(result.stdout.trim())
  expect(processStartTime(pid)).toBeUndefined()
  return pid
}

describe('shell sessions (activator/sessions.ts)', () => {
  let root: string
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), 'ctr-sessions-'))
  })
  afterEach(() => rmSync(root, {recursive: true, force: true}))

  it('a session is counted while open, in ROOT/activator/sessions/NAME/PID holding its start time, and not after close', () => {
    expect(liveSessions(root, 'web1')).toBe(0)
    const session = openSession(root, 'web1')
    const file = join(root, 'activator', 'sessions', 'web1', String(process.pid))
    expect(readFileSync(file, 'utf8').trim()).toBe(processStartTime(process.pid))
    expect(readdirSync(sessionsDir(root, 'web1'))).toEqual([String(process.pid)])
    expect(liveSessions(root, 'web1')).toBe(1)
    expect(liveSessions(root, 'web2')).toBe(0)
    session.close()
    session.close()
    expect(liveSessions(root, 'web1')).toBe(0)
    expect(existsSync(file)).toBe(false)
  })

  it('counts each live process once, another process\'s session too', async () => {
    const other = spawn('sleep', ['30'], {stdio: 'ignore'})
    try {
      await new Promise((resolve) => other.once('spawn', resolve))
      const mine = openSession(root, 'web1')
      const theirs = openSession(root, 'web1', other.pid!)
      expect(liveSessions(root, 'web1')).toBe(2)
      other.kill('SIGKILL')
      await new Promise((resolve) => other.once('exit', resolve))
      // Killed without closing its session: stale, not counted, and removed.
      expect(liveSessions(root, 'web1')).toBe(1)
      expect(readdirSync(sessionsDir(root, 'web1'))).toEqual([String(process.pid)])
      theirs.close()
      mine.close()
    } finally {
      other.kill('SIGKILL')
    }
  })

  it('a stale file of a dead pid is ignored and removed', () => {
    const dir = sessionsDir(root, 'web1')
    mkdirSync(dir, {recursive: true})
    const pid = deadPid()
    writeFileSync(join(dir, String(pid)), '12345\n')
    writeFileSync(join(dir, `.${pid}.tmp`), '12345\n')
    expect(liveSessions(root, 'web1')).toBe(0)
    expect(readdirSync(dir)).toEqual([])
  })

  it('a file whose pid now names another process (another start time) is stale, as is an empty one', () => {
    const dir = sessionsDir(root, 'web1')
    mkdirSync(dir, {recursive: true})
    writeFileSync(join(dir, String(process.pid)), `${Number(processStartTime(process.pid)) - 1}\n`)
    writeFileSync(join(dir, '1'), '')
    writeFileSync(join(dir, 'notes'), 'not a session')
    expect(liveSessions(root, 'web1')).toBe(0)
    expect(readdirSync(dir)).toEqual(['notes'])
  })

  it('refuses a name that is not a container name before touching a path', () => {
    expect(() => openSession(root, '../victim')).toThrow(/invalid container name/)
    expect(() => liveSessions(root, '..')).toThrow(/invalid container name/)
    expect(existsSync(join(root, 'activator'))).toBe(false)
  })
})
