/**
 * A second build of ctr, as an upgrade brings: a copy of this tree (node_modules linked, not
 * copied) built there with tsc, so that its dist/src/activator/daemon.js is newer than the one
 * that runs. Its bin/ctr, run against a root whose activator is the older build, takes over.
 */
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {mkdtemp, readdir, rm, symlink, utimes} from 'node:fs/promises'
import {join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {execa} from 'execa'

export const REPO = fileURLToPath(new URL('../../', import.meta.url))

export interface Build {
  dir: string
  bin: string
  daemon: string
  /** Runs this build's CLI against ROOT, as test/helpers/cli.ts runs the tree's own. */
  ctr(root: string, args: string[]): Promise<{exitCode?: number; stdout: string; stderr: string}>
  remove(): Promise<void>
}

export async function makeSecondBuild(): Promise<Build> {
  const dir = await mkdtemp('/var/tmp/ctr-faults-upgrade-')
  const entries = (await readdir(REPO)).filter((name) => name !== 'node_modules' && name !== 'bench-results')
  await execa('cp', ['-a', ...entries.map((name) => join(REPO, name)), dir])
  await symlink(join(REPO, 'node_modules'), join(dir, 'node_modules'))
  // tsc emits even when the tree in progress has type errors; what matters is a newer build.
  const built = await execa('npx', ['tsc', '-p', 'tsconfig.json'], {cwd: dir, reject: false})
  const daemon = join(dir, 'dist', 'src', 'activator', 'daemon.js')
  if (!existsSync(daemon)) throw new Error(`the second build made no ${daemon}: ${built.stdout.slice(-2000)}`)
  const bin = join(dir, 'bin', 'ctr')
  return {
    dir,
    bin,
    daemon,
    async ctr(root, args) {
      return execa(bin, [...args, '--root', root], {reject: false, timeout: 120_000, env: {NO_COLOR: '1'}})
    },
    async remove() {
      await rm(dir, {recursive: true, force: true})
    },
  }
}

/** Makes every file of the build's dist newer than now (the tree's own may have been rebuilt since). */
export async function touchBuild(build: Build): Promise<void> {
  const now = new Date(Date.now() + 1000)
  const walk = async (d: string): Promise<void> => {
    for (const entry of await readdir(d, {withFileTypes: true})) {
      const path = join(d, entry.name)
      if (entry.isDirectory()) await walk(path)
      else await utimes(path, now, now)
    }
  }
  await walk(join(build.dir, 'dist'))
}

/** An ssh session that stays open until told to end: it prints what it is sent, then exits. */
export function openSession(argv: string[]): {ready: Promise<void>; end(line: string): Promise<{code: number | null; out: string; err: string}>} {
  const child = spawn('ssh', argv, {stdio: ['pipe', 'pipe', 'pipe']})
  let out = ''
  let err = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (out += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (err += d))
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the ssh session did not open: ${err}`)), 60_000)
    child.stdout.on('data', () => {
      if (out.includes('session open')) {
        clearTimeout(timer)
        resolve()
      }
    })
    void exited.then((code) => reject(new Error(`the ssh session ended at once (exit ${code}): ${err}`)))
  })
  return {
    ready,
    async end(line: string) {
      child.stdin.end(`${line}\n`)
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
      const code = await exited
      clearTimeout(timer)
      return {code, out, err}
    },
  }
}
