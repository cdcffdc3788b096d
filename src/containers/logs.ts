/**
 * ctr logs: the container's own journal, kept in its tree by its journald (nspawn --link-journal=no),
 * read with the host's journalctl -D whether the container runs or not.
 */
import {spawn} from 'node:child_process'
import {readdir} from 'node:fs/promises'
import {setTimeout as delay} from 'node:timers/promises'
import {join} from 'node:path'
import {CtrError} from '../errors.js'
import {requireProgram, run} from '../exec.js'
import {debug} from '../log.js'
import {mountRootfs} from '../rootfs/mount.js'
import {getContainer} from '../store/containers.js'

export function journalDir(tree: string): string {
  return join(tree, 'var/log/journal')
}

export interface JournalOptions {
  lines?: number
  follow?: boolean
  /** One JSON object a line, as journalctl -o json gives them. */
  json?: boolean
}

export function journalArgv(dir: string, options: JournalOptions): string[] {
  const argv = ['journalctl', '-D', dir, '--no-pager', '-q', '-n', String(options.lines ?? 50)]
  if (options.json) argv.push('-o', 'json')
  if (options.follow) argv.push('-f')
  return argv
}

/**
 * Whether DIR holds a journal file. The base tree already has an empty var/log/journal, and
 * journalctl -D on it prints nothing (-q) and exits 0, or at once under -f: journald makes
 * MACHINE-ID/system.journal there at the container's first boot.
 */
export async function hasJournal(dir: string): Promise<boolean> {
  const entries = await readdir(dir, {withFileTypes: true}).catch(() => [])
  for (const entry of entries) {
    if (entry.isFile() && entry.name.endsWith('.journal')) return true
    if (entry.isDirectory()) {
      const files = await readdir(join(dir, entry.name)).catch(() => [])
      if (files.some((f) => f.endsWith('.journal'))) return true
    }
  }
  return false
}

function noJournal(name: string): CtrError {
  return new CtrError('NOT_FOUND', `${name} has no journal yet: it has not booted`, {
    hints: [`the journal is written from its first boot: ctr start --now ${name}, or follow it until then: ctr logs ${name} -f`],
  })
}

/** The last LINES lines (or entries as JSON lines). */
export async function readLogs(root: string, name: string, lines: number, options: {json?: boolean} = {}): Promise<string> {
  const dir = journalDir(await mountRootfs(root, await getContainer(root, name)))
  if (!(await hasJournal(dir))) throw noJournal(name)
  return (await run(journalArgv(dir, {lines, json: options.json}))).stdout
}

/**
 * Prints the journal to stdout and follows it until SIGNAL fires or journalctl ends. A container
 * that has not booted has no journal yet: ON_WAITING is told, and the journal is followed from
 * the moment it appears.
 */
export async function followLogs(
  root: string,
  name: string,
  lines: number,
  signal?: AbortSignal,
  options: {json?: boolean; onWaiting?: (message: string) => void} = {},
): Promise<void> {
  const dir = journalDir(await mountRootfs(root, await getContainer(root, name)))
  if (!(await hasJournal(dir))) {
    options.onWaiting?.(`${name} has no journal yet; waiting for its first boot (Ctrl-C stops)`)
    while (!(await hasJournal(dir))) {
      if (signal?.aborted) return
      await delay(JOURNAL_POLL_MS, undefined, {signal}).catch(() => {})
    }
  }
  if (signal?.aborted) return
  const argv = journalArgv(dir, {lines, json: options.json, follow: true})
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

const JOURNAL_POLL_MS = 300
