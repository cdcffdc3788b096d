/**
 * ctr logs: the container's own journal, kept in its tree by nspawn -j (--link-journal=try-guest),
 * read with the host's journalctl -D whether the container runs or not.
 */
import {spawn} from 'node:child_process'
import {existsSync} from 'node:fs'
import {join} from 'node:path'
import {CtrError} from '../errors.js'
import {requireProgram, run} from '../exec.js'
import {debug} from '../log.js'
import {mountRootfs} from '../rootfs/mount.js'
import {getContainer} from '../store/containers.js'

export function journalDir(tree: string): string {
  return join(tree, 'var/log/journal')
}

export function journalArgv(dir: string, options: {lines?: number; follow?: boolean}): string[] {
  const argv = ['journalctl', '-D', dir, '--no-pager', '-q', '-n', String(options.lines ?? 50)]
  if (options.follow) argv.push('-f')
  return argv
}

async function containerJournal(root: string, name: string): Promise<string> {
  const tree = await mountRootfs(root, await getContainer(root, name))
  const dir = journalDir(tree)
  if (!existsSync(dir)) {
    throw new CtrError('NOT_FOUND', `${name} has no journal yet`, {hints: [`it is written from its first boot: ctr start --now ${name}`]})
  }
  return dir
}

/** The last LINES lines. */
export async function readLogs(root: string, name: string, lines: number): Promise<string> {
  const dir = await containerJournal(root, name)
  return (await run(journalArgv(dir, {lines}))).stdout
}

/** Prints the journal to stdout and follows it until SIGNAL fires or journalctl ends. */
export async function followLogs(root: string, name: string, lines: number, signal?: AbortSignal): Promise<void> {
  const dir = await containerJournal(root, name)
  const argv = journalArgv(dir, {lines, follow: true})
  debug(`+ ${argv.join(' ')}`)
  const child = spawn(requireProgram('journalctl'), argv.slice(1), {stdio: ['ignore', 'inherit', 'inherit']})
  const stop = () => child.kill('SIGTERM')
  signal?.addEventListener('abort', stop, {once: true})
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', () => resolve())
  })
  signal?.removeEventListener('abort', stop)
}
