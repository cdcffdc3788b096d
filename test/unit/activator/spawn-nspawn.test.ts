import {existsSync} from 'node:fs'
import {connect} from 'node:net'
import {join} from 'node:path'
import {afterEach, describe, expect, it} from 'vitest'
import {nspawnArgv} from '../../../src/nspawn/argv.js'
import {makeContainerCgroups, removeRootCgroups, rootCgroupId} from '../../../src/activator/cgroups.js'
import {TRAMPOLINE, nspawnEnv, spawnNspawn, stdioWithFds, tailOf, trampolineArgv} from '../../../src/activator/spawn-nspawn.js'
import {canBind, closeFd, isReadable, listenTcp} from '../../../src/sys/socket.js'
import {SocketWatcher} from '../../../src/activator/watcher.js'
import {skipReason} from '../../helpers/roots.js'
import {useTempDirs} from '../../helpers/temp.js'

describe('the LISTEN_PID trampoline', () => {
  const tempDir = useTempDirs()

  it('wraps the argv in sh, which exports its own pid and execs', () => {
    expect(trampolineArgv(['systemd-nspawn', '-D', '/t', '-b'], 2)).toEqual(['/bin/sh', '-c', TRAMPOLINE, 'sh', '2', '0', 'systemd-nspawn', '-D', '/t', '-b'])
    expect(trampolineArgv(['systemd-nspawn', '-b'], 0, ['/cg/a', '/cg/b'])).toEqual(['/bin/sh', '-c', TRAMPOLINE, 'sh', '0', '2', '/cg/a', '/cg/b', 'systemd-nspawn', '-b'])
    expect(stdioWithFds([17, 9], 5)).toEqual(['ignore', 5, 5, 17, 9])
    expect(Object.keys(nspawnEnv())).toEqual(['PATH'])
  })

  it('nspawn argv boots with -j and, without systemd as PID 1, neither registers nor moves', () => {
    const argv = nspawnArgv({tree: '/t', machine: 'web1', hostHasSystemd: false})
    expect(argv).toEqual(expect.arrayContaining(['-D', '/t', '-b', '--machine=web1', '--register=no', '--keep-unit', '--link-journal=no']))
    expect(nspawnArgv({tree: '/t', machine: 'web1', hostHasSystemd: true})).not.toContain('--keep-unit')
  })

  const fds: number[] = []
  afterEach(() => {
    for (const fd of fds.splice(0)) closeFd(fd)
  })

  it('hands the sockets over as fds 3.. of the very process LISTEN_PID names, still queued', async () => {
    let port = 20000 + Math.floor(Math.random() * 9000)
    while (!canBind(port).ok || !canBind(port + 1).ok) port++
    const a = listenTcp(port, '127.0.0.1')
    const b = listenTcp(port + 1, '127.0.0.1')
    fds.push(a, b)
    const client = connect(port, '127.0.0.1')
    await new Promise((r) => client.once('connect', r))
    // Stands in for nspawn: prints what sd_listen_fds(3) checks, then what fd 3 and 4 are.
    const probe = ['/bin/sh', '-c', 'echo "$LISTEN_PID $$ $LISTEN_FDS"; readlink /proc/$$/fd/3 /proc/$$/fd/4; cat /proc/$$/fdinfo/3 | grep flags']
    const consoleLog = join(await tempDir(), 'console.log')
    const watcher = new SocketWatcher()
    let exit: (status: [number | null, string | null]) => void = () => {}
    const exited = new Promise<[number | null, string | null]>((r) => (exit = r))
    const spawned = spawnNspawn(probe, [a, b], consoleLog, watcher, (code, signal) => exit([code, signal]))
    expect(await exited).toEqual([0, null])
    await watcher.close()
    const [pids, fd3, fd4, flags] = spawned.outputTail(4)
    const [listenPid, pid, count] = pids.split(' ')
    expect(listenPid).toBe(pid)
    expect(Number(pid)).toBe(spawned.pid)
    expect(count).toBe('2')
    expect(fd3).toMatch(/^socket:\[\d+\]$/)
    expect(fd4).toMatch(/^socket:\[\d+\]$/)
    // Not close-on-exec in the child (O_CLOEXEC is 02000000 octal).
    expect(Number.parseInt(flags.split(/\s+/)[1], 8) & 0o2000000).toBe(0)
    // The activator's own copy is still open and the connection still waits to be accepted.
    expect(isReadable(a)).toBe(true)
    client.destroy()
  })

  it.skipIf(skipReason())('runs the child in the cgroups it is given, in every hierarchy, from before exec', async () => {
    const root = await tempDir()
    const dirs = makeContainerCgroups(root, 'probe', () => {})
    try {
      expect(dirs.length).toBeGreaterThan(0)
      const consoleLog = join(await tempDir(), 'console.log')
      const watcher = new SocketWatcher()
      let exit: () => void = () => {}
      const exited = new Promise<void>((r) => (exit = r))
      const spawned = spawnNspawn(['/bin/cat', '/proc/self/cgroup'], [], consoleLog, watcher, () => exit(), undefined, dirs)
      await exited
      await watcher.close()
      const seen = spawned.outputTail(20).map((line) => line.split(':').slice(2).join(':'))
      const want = `/ctr/${rootCgroupId(root)}/probe`
      // Every hierarchy joined shows the container's cgroup (hierarchies not joined, such as cpuset, stay).
      expect(seen.filter((path) => path === want).length).toBe(dirs.length)
    } finally {
      removeRootCgroups(root)
    }
    expect(existsSync(dirs[0])).toBe(false)
  })

  it('reads the tail of the console log without ANSI colours', async () => {
    const {writeFile} = await import('node:fs/promises')
    const path = join(await tempDir(), 'console.log')
    await writeFile(path, 'one\r\n\x1b[0;32m  OK  \x1b[0m] Reached target\n\nthree\n')
    expect(tailOf(path, 2)).toEqual(['  OK  ] Reached target', 'three'])
    expect(tailOf(`${path}.missing`, 2)).toEqual([])
  })
})
