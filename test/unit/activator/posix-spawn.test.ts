import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {describe, expect, it} from 'vitest'
import {SocketWatcher} from '../../../src/activator/watcher.js'
import {useTempDirs} from '../../helpers/temp.js'
import {closePidfd, decodeWaitStatus, fdPlan, pidfdOpen, posixSpawn, reap} from '../../../src/sys/spawn.js'

describe('posix_spawn for nspawn', () => {
  const tempDir = useTempDirs()

  it('moves passed fds above every fd involved before putting them on 3, 4, ...', () => {
    // fd 4 is a source and a target: it is copied away before 4 is overwritten.
    expect(fdPlan([4, 3])).toEqual([
      {op: 'dup2', from: 4, to: 5},
      {op: 'dup2', from: 3, to: 6},
      {op: 'dup2', from: 5, to: 3},
      {op: 'dup2', from: 6, to: 4},
      {op: 'close', fd: 5},
      {op: 'close', fd: 6},
    ])
    expect(fdPlan([]).length).toBe(0)
  })

  it('decodes wait statuses', () => {
    expect(decodeWaitStatus(0)).toEqual({code: 0, signal: null})
    expect(decodeWaitStatus(133 << 8)).toEqual({code: 133, signal: null})
    expect(decodeWaitStatus(9)).toEqual({code: null, signal: 9})
  })

  it('runs a program in its own session with signals reset, output in a file, exit seen by pidfd', async () => {
    const out = join(await tempDir(), 'out')
    const script = 'echo "$$ $(cut -d" " -f6 /proc/$$/stat)"; grep -E "^Sig(Ign|Blk)" /proc/self/status; echo oops >&2; exit 42'
    const pid = posixSpawn({path: '/bin/sh', argv: ['sh', '-c', script], env: {PATH: '/usr/bin:/bin'}, passFds: [], outputPath: out, newSession: true})
    const pidfd = pidfdOpen(pid)
    const watcher = new SocketWatcher()
    await new Promise<void>((resolve) => watcher.watch('exit', [pidfd], () => resolve()))
    await watcher.close()
    expect(reap(pid)).toEqual({code: 42, signal: null})
    closePidfd(pidfd)
    const [ids, blocked, ignored, err] = (await readFile(out, 'utf8')).trim().split('\n')
    // Session id = its own pid: setsid, like Node's detached.
    expect(ids).toBe(`${pid} ${pid}`)
    expect(blocked).toMatch(/SigBlk:\s+0+$/)
    // Only glibc's two internal real-time signals (32, 33) stay ignored; SIGPIPE (13) does not.
    expect(BigInt(`0x${ignored.split(/\s+/)[1]}`) & (1n << 12n)).toBe(0n)
    expect(err).toBe('oops')
  })
})
