/**
 * SIGKILL where it hurts: a container's systemd-nspawn, the container's init (its PID 1 as the
 * host sees it), `ctr create` during a real debootstrap and during a `--copy` clone, and
 * `ctr images import` mid-unpack. Afterwards: at most one instance per tree, no process in a tree
 * ctr says is off, no stale mount, nothing half-made listed, the port held all along, and the next
 * login works (booting exactly one instance).
 */
import {spawn, type ChildProcess} from 'node:child_process'
import {existsSync} from 'node:fs'
import {mkdtemp, readdir, rm} from 'node:fs/promises'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {scanProcesses} from '../../src/activator/proc.js'
import {nspawnPidsFor} from '../../src/containers/processes.js'
import {exportImage} from '../../src/rootfs/image-archive.js'
import {mountsUnder} from '../../src/rootfs/mount.js'
import {containerPaths, layout} from '../../src/store/paths.js'
import {canBind} from '../../src/sys/socket.js'
import {CTR, ctr} from '../helpers/cli.js'
import {cachedBase, makeTestRoot} from '../helpers/roots.js'
import {makeKeyPair, ssh} from '../helpers/ssh.js'
import {destroyRootAndHolder, freePorts, initOf, ls, problems, processesIn, statusOf, waitFor} from './system.js'
import {recordFault} from './tally.js'

const GROUP = 'SIGKILL of nspawn, of a container init, of create and of images import'

async function du(path: string): Promise<number> {
  const {stdout} = await execa('du', ['-sxb', path], {reject: false})
  return Number(stdout.split(/\s/)[0]) || 0
}

/** pids of processes whose arguments name something under PATH (a cp or debootstrap left running). */
function processesNaming(path: string): number[] {
  return scanProcesses()
    .filter((p) => p.pid !== process.pid && p.argv.some((a) => a.startsWith(path)))
    .map((p) => p.pid)
}

export function killCases(): void {
  describe(GROUP, () => {
    let keys: Awaited<ReturnType<typeof makeKeyPair>>
    let root: string
    let work: string
    const roots: string[] = []
    const children: ChildProcess[] = []
    const [PORT, PORT_CLONE, PORT_IMPORTED] = freePorts(3, 23000, 23999)

    const startCtr = (r: string, args: string[]) => {
      const child = spawn(CTR, [...args, '--root', r], {stdio: ['ignore', 'ignore', 'pipe'], env: {...process.env, NO_COLOR: '1'}})
      children.push(child)
      const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.on('exit', (code, sig) => resolve(sig ?? code)))
      return Object.assign(child, {exited})
    }

    /** Runs a case; whatever it finds wrong is recorded for the summary, and fails the test. */
    const check = async (fault: string, body: () => Promise<string[]>) => {
      let wrong: string[]
      try {
        wrong = await body()
      } catch (error) {
        wrong = [error instanceof Error ? error.message : String(error)]
      }
      recordFault(GROUP, fault, wrong.length === 0, wrong.join('; ') || undefined)
      expect(wrong).toEqual([])
    }

    /** The port held while the container is killed and recovers: polled every 5 ms for MS. */
    const watchPort = (port: number, ms: number) => {
      const closedAt: number[] = []
      const done = (async () => {
        const end = Date.now() + ms
        while (Date.now() < end) {
          if (canBind(port).ok) closedAt.push(Date.now())
          await sleep(5)
        }
      })()
      return {closedAt, done}
    }

    /** After a kill of part of a running container: its tree empties, the port stays held, one boot on the next login. */
    const afterContainerKill = async (killed: number, wakesBefore: number): Promise<string[]> => {
      const wrong: string[] = []
      const tree = containerPaths(root, 'victim').rootfs
      const watch = watchPort(PORT, 3000)
      const off = await waitFor('the activator to see victim off', async () => {
        const s = await statusOf(root, 'victim')
        return s.state === 'listening' || s.state === 'stopped' ? s : undefined
      }, 30_000).catch((e: Error) => e)
      if (off instanceof Error) return [off.message, `victim: ${JSON.stringify(await statusOf(root, 'victim'))}`]
      if (off.state !== 'listening') wrong.push(`victim is ${off.state} after the kill, its port no longer held`)
      // Its init and everything under it are killed: nothing may run in the tree now.
      const left = await waitFor('no process left in the tree', () => (processesIn(root, 'victim').length === 0 ? true : undefined), 10_000).catch(() => processesIn(root, 'victim'))
      if (left !== true) wrong.push(`processes left in victim's tree after the kill of ${killed}: ${(left as number[]).join(', ')}`)
      await watch.done
      if (watch.closedAt.length > 0) wrong.push(`port ${PORT} could be bound (was closed) ${watch.closedAt.length} times in the 3 s after the kill`)
      wrong.push(...(await problems(root)))
      const login = await ssh(keys.key, PORT, 'cat /etc/hostname')
      if (login.exitCode !== 0 || login.stdout !== 'victim') wrong.push(`the next login: exit ${login.exitCode}, ${login.stdout} ${login.stderr.trim()}`)
      const nspawns = await nspawnPidsFor(tree)
      if (nspawns.length !== 1) wrong.push(`${nspawns.length} instances boot victim after the next login (${nspawns.join(', ')})`)
      const s = await statusOf(root, 'victim')
      if (s.wakes !== wakesBefore + 1) wrong.push(`victim woke ${s.wakes - wakesBefore} times for one login`)
      wrong.push(...(await problems(root)))
      return wrong
    }

    const running = async () => {
      const login = await ssh(keys.key, PORT, 'true')
      if (login.exitCode !== 0) throw new Error(`login before the kill failed: ${login.stderr}`)
      const s = await statusOf(root, 'victim')
      if (s.state !== 'running' || !s.pid) throw new Error(`victim is ${s.state} after a login`)
      return s
    }

    beforeAll(async () => {
      keys = await makeKeyPair()
      root = await makeTestRoot()
      roots.push(root)
      work = await mkdtemp('/var/tmp/ctr-faults-work-')
      const made = await ctr(root, ['create', 'debian', 'victim', '--ssh-key', keys.pub, '--ssh-port', String(PORT)])
      if (made.exitCode !== 0) throw new Error(`ctr create victim: ${made.stderr}`)
      const started = await ctr(root, ['start', 'victim'])
      if (started.exitCode !== 0) throw new Error(`ctr start victim: ${started.stderr}`)
    }, 600_000)

    afterAll(async () => {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
      for (const r of roots) await destroyRootAndHolder(r)
      if (work) await rm(work, {recursive: true, force: true})
      if (keys) await rm(keys.dir, {recursive: true, force: true})
    }, 300_000)

    it('SIGKILL of systemd-nspawn: its container dies with it, the port is held again, the next login boots one instance', async () => {
      await check('SIGKILL of a running container\'s systemd-nspawn', async () => {
        const s = await running()
        process.kill(s.pid!, 'SIGKILL')
        return afterContainerKill(s.pid!, s.wakes)
      })
    }, 180_000)

    it('SIGKILL of the container\'s init (the child of nspawn that is PID 1 inside): the same', async () => {
      await check('SIGKILL of a running container\'s init', async () => {
        const s = await running()
        const init = await initOf(s.pid!)
        if (init === undefined) return [`no init found among the children of nspawn ${s.pid}`]
        process.kill(init, 'SIGKILL')
        return afterContainerKill(init, s.wakes)
      })
    }, 180_000)

    it('SIGKILL of ctr create --copy mid-clone: nothing half-made is listed; the same name is created, started and logged into next', async () => {
      await check('SIGKILL of ctr create --copy during the clone', async () => {
        const wrong: string[] = []
        const clone = containerPaths(root, 'clone')
        const child = startCtr(root, ['create', 'debian', 'clone', '--copy', '--ssh-key', keys.pub])
        await waitFor('cp to be copying', () => existsSync(join(clone.rootfs, 'usr', 'lib')), 60_000, 2)
        await sleep(50)
        child.kill('SIGKILL')
        if ((await child.exited) !== 'SIGKILL') wrong.push('ctr create --copy ended before it was killed')
        const cps = await waitFor('the clone\'s cp to end', () => (processesNaming(clone.dir).length === 0 ? true : undefined), 10_000).catch(() => processesNaming(clone.dir))
        if (cps !== true) wrong.push(`processes still copying into ${clone.dir}: ${(cps as number[]).join(', ')}`)
        const report = await ls(root)
        if (report.containers.some((c) => c.name === 'clone')) wrong.push('ctr ls lists the half-made clone')
        wrong.push(...(await problems(root, report)))
        const again = await ctr(root, ['create', 'debian', 'clone', '--ssh-key', keys.pub, '--ssh-port', String(PORT_CLONE)])
        if (again.exitCode !== 0) return [...wrong, `the next create of clone: ${again.stderr.trim()}`]
        const started = await ctr(root, ['start', 'clone'])
        if (started.exitCode !== 0) wrong.push(`ctr start clone: ${started.stderr.trim()}`)
        const login = await ssh(keys.key, PORT_CLONE, 'cat /etc/hostname')
        if (login.stdout !== 'clone') wrong.push(`login to clone: exit ${login.exitCode} ${login.stderr.trim()}`)
        wrong.push(...(await problems(root)))
        return wrong
      })
    }, 300_000)

    it('SIGKILL of ctr create during a real debootstrap into an empty root: debootstrap stops, nothing is listed or mounted', async () => {
      await check('SIGKILL of ctr create during debootstrap', async () => {
        const wrong: string[] = []
        const empty = await mkdtemp('/var/tmp/ctr-faults-empty-')
        roots.push(empty)
        const staging = join(layout(empty).tmp, 'image-debian-bookworm')
        const child = startCtr(empty, ['create', 'debian', 'boot', '--ssh-key', keys.pub])
        let stderr = ''
        child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d))
        await waitFor('debootstrap to start', () => existsSync(staging), 60_000, 20).catch(() => wrong.push(`no staging dir after 60 s: ${stderr.slice(-500)}`))
        await sleep(4000)
        const downloaded = await du(staging)
        child.kill('SIGKILL')
        if ((await child.exited) !== 'SIGKILL') wrong.push(`ctr create ended before it was killed: ${stderr.slice(-300)}`)
        const left = await waitFor('debootstrap to stop', () => (processesNaming(staging).length === 0 ? true : undefined), 30_000).catch(() => processesNaming(staging))
        if (left !== true) wrong.push(`processes still working in ${staging}: ${(left as number[]).join(', ')}`)
        const report = await ls(empty)
        if (report.containers.length > 0) wrong.push(`ctr ls lists ${report.containers.map((c) => c.name).join(', ')}`)
        const images = await ctr(empty, ['images', '--json'])
        if (images.exitCode !== 0 || JSON.parse(images.stdout).length !== 0) wrong.push(`ctr images lists ${images.stdout.trim()}`)
        const mounts = await mountsUnder(empty)
        if (mounts.length > 0) wrong.push(`mounts left under the root: ${mounts.join(', ')}`)
        wrong.push(...(await problems(empty, report)))
        console.log(`killed debootstrap after ${(downloaded / 1e6).toFixed(0)} MB; ${wrong.length === 0 ? 'nothing left running or listed' : wrong.join('; ')}`)
        return wrong
      })
    }, 300_000)

    it('SIGKILL of ctr images import mid-unpack: no image listed, no mount; the next import, create and login work', async () => {
      await check('SIGKILL of ctr images import during the unpack', async () => {
        const wrong: string[] = []
        const {cacheRoot, id} = await cachedBase()
        const archive = join(work, 'base.tar')
        await exportImage(cacheRoot, id, archive)
        const fresh = await mkdtemp('/var/tmp/ctr-faults-import-')
        roots.push(fresh)
        const staging = join(layout(fresh).tmp, `image-${id}`)
        const child = startCtr(fresh, ['images', 'import', archive, '--distro', 'debian'])
        await waitFor('30 MB unpacked', async () => existsSync(staging) && (await du(staging)) > 30e6, 120_000, 5)
        child.kill('SIGKILL')
        if ((await child.exited) !== 'SIGKILL') wrong.push('ctr images import ended before it was killed')
        const images = await ctr(fresh, ['images', '--json'])
        if (images.exitCode !== 0 || JSON.parse(images.stdout).length !== 0) wrong.push(`ctr images lists ${images.stdout.trim()} after the kill`)
        const mounts = await mountsUnder(fresh)
        if (mounts.length > 0) wrong.push(`mounts left: ${mounts.join(', ')}`)
        if (processesNaming(staging).length > 0) wrong.push(`processes left in ${staging}`)
        const again = await ctr(fresh, ['images', 'import', archive, '--distro', 'debian'])
        if (again.exitCode !== 0) return [...wrong, `the next import: ${again.stderr.trim()}`]
        const leftovers = (await readdir(layout(fresh).tmp).catch(() => [])).filter((n) => !n.startsWith('.'))
        if (leftovers.length > 0) wrong.push(`tmp/ still holds ${leftovers.join(', ')} after the next import`)
        const made = await ctr(fresh, ['create', 'debian', 'imported', '--ssh-key', keys.pub, '--ssh-port', String(PORT_IMPORTED)])
        if (made.exitCode !== 0) return [...wrong, `create from the imported base: ${made.stderr.trim()}`]
        const started = await ctr(fresh, ['start', 'imported'])
        if (started.exitCode !== 0) wrong.push(`ctr start imported: ${started.stderr.trim()}`)
        const login = await ssh(keys.key, PORT_IMPORTED, 'cat /etc/hostname')
        if (login.stdout !== 'imported') wrong.push(`login to imported: exit ${login.exitCode} ${login.stderr.trim()}`)
        wrong.push(...(await problems(fresh)))
        await rm(archive, {force: true})
        return wrong
      })
    }, 400_000)

    it('ctr start is idempotent: a held or running container is started again with exit 0, saying which', async () => {
      await check('ctr start of a running and of a held container', async () => {
        const wrong: string[] = []
        await running()
        const again = await ctr(root, ['start', 'victim'])
        if (again.exitCode !== 0) wrong.push(`ctr start of running victim: exit ${again.exitCode}: ${again.stderr.trim()}`)
        if (!/running/.test(again.stdout + again.stderr)) wrong.push(`ctr start of running victim does not say it runs: ${again.stdout.trim()}`)
        const hold = await ctr(root, ['stop', '--hold', 'clone'])
        if (hold.exitCode !== 0) wrong.push(`ctr stop --hold clone: ${hold.stderr.trim()}`)
        const held = await ctr(root, ['start', 'clone'])
        if (held.exitCode !== 0) wrong.push(`ctr start of held clone: exit ${held.exitCode}: ${held.stderr.trim()}`)
        if (!/listening|held/.test(held.stdout + held.stderr)) wrong.push(`ctr start of held clone does not say it is held: ${held.stdout.trim()}`)
        return wrong
      })
    }, 120_000)
  })
}

