/**
 * Bases as tar archives: `ctr images export` writes a cached base as a tar (gzip with a .gz or .tgz
 * name), `ctr images import` makes a base from such an archive, a file or an http(s) URL. This is
 * how a base moves to a machine that cannot bootstrap it (no mirror, as with Fedora here), and how
 * a distro's published root filesystem tarball becomes a ctr base.
 *
 * node-tar writes modes, owners, links and times faithfully; on extract it creates files under the
 * process umask and its chown clears setuid/setgid bits, so every mode is set again afterwards, and
 * it rewrites absolute symlink targets, so symlinks are made by ctr (inside the tree, chroot-like).
 * Device nodes, fifos and sockets are left out both ways: nspawn gives a container its own /dev.
 * Extended attributes (file capabilities, ACLs) are not carried.
 */
import {createWriteStream, type Stats} from 'node:fs'
import {chmod, lchown, lstat, rename, rm, stat} from 'node:fs/promises'
import {join, posix} from 'node:path'
import {PassThrough, type Readable, type Writable} from 'node:stream'
import {pipeline} from 'node:stream/promises'
import {setTimeout as sleep} from 'node:timers/promises'
import * as tar from 'tar'
import {getDistro} from '../distros/index.js'
import type {Progress} from '../distros/types.js'
import {CtrError, errnoCode} from '../errors.js'
import {validateImageId, validateRelease} from '../names.js'
import {imagePaths} from '../store/paths.js'
import {blocksFor, freeSpace, isFull, isNoSpace, noSpace, spaceBudget, type Space} from '../store/space.js'
import {imageId, readImage, stageImage, type ImageHooks, type ImageRecord} from './images.js'
import {downloadError, isDownloadError, openSource} from './archive-source.js'
import {readInTree, resolveInTree, symlinkInTree} from './tree-fs.js'

/** What tar carries: not device nodes, fifos or sockets. */
function carried(stats: Pick<Stats, 'isCharacterDevice' | 'isBlockDevice' | 'isFIFO' | 'isSocket'>): boolean {
  return !(stats.isCharacterDevice() || stats.isBlockDevice() || stats.isFIFO() || stats.isSocket())
}

const CARRIED_TYPES = new Set(['File', 'OldFile', 'ContiguousFile', 'Directory', 'SymbolicLink', 'Link'])

export function gzipFor(path: string): boolean {
  return /\.(tgz|gz)$/.test(path)
}

/** A pass-through that reports progress by the bytes through it, and counts them (`seen()`). */
function byteCounter(total: number | undefined, label: string, onProgress?: (p: Progress) => void): PassThrough & {seen(): number} {
  let seen = 0
  const counter = Object.assign(new PassThrough(), {seen: () => seen})
  counter.on('data', (chunk: Buffer) => {
    seen += chunk.length
    onProgress?.({fraction: total ? Math.min(0.99, seen / total) : 0, label: `${label} ${(seen / 1e6).toFixed(0)} MB`})
  })
  return counter
}

export interface ExportReport {
  id: string
  /** The file written, or "-" for standard output. */
  output: string
  bytes: number
}

/**
 * Writes image ID as a tar to OUTPUT (a path; written beside it and renamed when complete) or to a
 * stream. Progress counts the archive's bytes against the tree's size.
 */
export async function exportImage(root: string, id: string, output: string | Writable, options: ImageHooks & {gzip?: boolean} = {}): Promise<ExportReport> {
  validateImageId(id)
  const image = await readImage(root, id)
  if (!image) throw new CtrError('NOT_FOUND', `no image ${id}`, {hints: ['ctr images lists the cached ones']})
  if (image.parent) {
    // Its tree is an overlay upper dir (whiteouts and all): not a root filesystem by itself.
    throw new CtrError('UNSUPPORTED', `${id} is a package layer on ${image.parent}, not a whole tree`, {
      hints: [`export its base: ctr images export ${image.parent}; the other machine makes the layer again at its first expose`],
    })
  }
  const tree = imagePaths(root, id).tree
  const pack = tar.c({cwd: tree, gzip: options.gzip ?? false, portable: false, filter: (_path, stats) => carried(stats as Stats)}, ['.'])
  const counter = byteCounter(options.gzip ? undefined : image.sizeBytes, 'written', options.onProgress)
  if (typeof output !== 'string') {
    await pipeline(pack as unknown as Readable, counter, output, {signal: options.signal}).catch((error) => rethrow(error, options.signal, `export of ${id}`))
    return {id, output: '-', bytes: counter.seen()}
  }
  const partial = `${output}.part`
  try {
    await pipeline(pack as unknown as Readable, counter, createWriteStream(partial, {mode: 0o600}), {signal: options.signal})
    await rename(partial, output)
  } catch (error) {
    await rm(partial, {force: true})
    rethrow(error, options.signal, `export of ${id}`)
  }
  return {id, output, bytes: counter.seen()}
}

export interface ImportRequest {
  /** A path, an http(s) URL, or - for standard input. */
  source: string
  distro: string
  release?: string
}

/** Makes the base for DISTRO + RELEASE from a tar archive (plain or gzip); refuses if it exists. */
export async function importImage(root: string, request: ImportRequest, hooks: ImageHooks = {}): Promise<ImageRecord> {
  const distro = getDistro(request.distro)
  const release = validateRelease(distro.recipe, request.release ?? distro.recipe.defaultRelease)
  const id = imageId(distro.recipe.name, release)
  if (await readImage(root, id)) {
    throw new CtrError('EXISTS', `image ${id} exists already`, {hints: [`remove it first (no container may use it): ctr images rm ${id}`]})
  }
  return stageImage(root, id, hooks, async (staging, space) => {
    const entries = await extract(request.source, staging, hooks, space)
    if (entries === 0) throw notTar(request.source)
    await requireSameDistro(staging, request.source, distro.recipe.name, release)
    await requireInTree(staging, request.source, ['/usr/lib/systemd/systemd', '/lib/systemd/systemd'], 'systemd, which boots the container')
    await requireInTree(staging, request.source, ['/usr/sbin/sshd'], 'sshd (openssh-server), which the ssh service runs')
    return {distro: distro.recipe.name, release, mirror: '', extraPackages: [], bootstrapSeconds: 0, importedFrom: request.source === '-' ? 'standard input' : request.source}
  })
}

/** Fields of an os-release(5) text. */
export function parseOsRelease(text: string): Record<string, string> {
  const fields: Record<string, string> = {}
  for (const line of text.split('\n')) {
    const m = /^([A-Z_]+)=(.*)$/.exec(line.trim())
    if (m) fields[m[1]] = m[2].replace(/^(["'])(.*)\1$/, '$2')
  }
  return fields
}

/** The tree's /etc/os-release must name the distro (and the release, when it says one) it is imported as. */
async function requireSameDistro(tree: string, source: string, distro: string, release: string): Promise<void> {
  const text = (await readInTree(tree, '/etc/os-release')) ?? (await readInTree(tree, '/usr/lib/os-release'))
  if (text === undefined) return
  const os = parseOsRelease(text)
  const releases = [os.VERSION_CODENAME, os.VERSION_ID].filter((r): r is string => Boolean(r))
  if (os.ID && os.ID !== distro) {
    throw new CtrError('INVALID_IMAGE', `${source} is ${os.PRETTY_NAME ?? os.ID}, not ${distro}`, {hints: [`import it as what it is: --distro ${os.ID}${releases[0] ? ` --release ${releases[0]}` : ''}`]})
  }
  if (releases.length > 0 && !releases.includes(release)) {
    throw new CtrError('INVALID_IMAGE', `${source} is ${os.PRETTY_NAME ?? `${distro} ${releases[0]}`}, not ${distro} ${release}`, {hints: [`import it as what it is: --distro ${distro} --release ${releases[0]}`]})
  }
}

async function requireInTree(tree: string, source: string, paths: string[], what: string): Promise<void> {
  for (const path of paths) {
    const found = await resolveInTree(tree, path)
      .then((host) => stat(host))
      .then(() => true)
      .catch(() => false)
    if (found) return
  }
  throw new CtrError('INVALID_IMAGE', `${source} has no ${paths[0]}: it needs ${what}`, {hints: ['import the root filesystem of a systemd distribution with openssh-server installed']})
}

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile'])

/** What one header announced, checked against what is on disk once the unpack is over. */
interface Expected {
  entry: object
  type: string
  size: number
  mode?: number
}

/** The entry's path inside the tree as node-tar writes it: no leading "/" or "./", no trailing "/". */
export function entryPath(path: string): string {
  return posix.normalize(path).replace(/^\/+/, '').replace(/\/+$/, '') || '.'
}

/**
 * Unpacks SOURCE into DIR; returns how many entries it had. Modes are set again at the end.
 * Every write is checked: node-tar reports a file it could not write (ENOSPC, EIO) only as a
 * warning and goes on, which made an import of 0-byte files on a full disk; here the first one
 * ends the import. Before any entry is written, the sizes its header announces are added up
 * against the space free when the import began, and the import stops at the header that no
 * longer fits, so a decompression bomb is refused before it fills the disk. At the end each
 * entry the archive announced is checked on disk (a regular file's size equals its header's).
 */
async function extract(source: string, dir: string, hooks: ImageHooks, space: Space): Promise<number> {
  const {stream, total} = await openSource(source, hooks.signal)
  const expected = new Map<string, Expected>()
  const refused = new WeakSet<object>()
  const symlinks: Array<{path: string; target: string; uid?: number; gid?: number}> = []
  const budget = spaceBudget(space)
  const stopper = new AbortController()
  let fatal: Error | undefined
  const stop = (error: Error) => {
    fatal ??= error
    stopper.abort(error)
  }
  let entries = 0
  const unpack = tar.x({
    cwd: dir,
    preserveOwner: true,
    // Leaves out what tar cannot make (device nodes, fifos) without a warning per entry.
    filter: (path, entry) => {
      if (fatal) return false
      const type = 'type' in entry ? String(entry.type) : 'File'
      if (!CARRIED_TYPES.has(type)) return false
      entries++
      const rel = entryPath(path)
      if (type === 'SymbolicLink' && 'linkpath' in entry && entry.linkpath) {
        // Made afterwards: node-tar would make an absolute target (/usr/bin/mawk) relative, which
        // inside a root filesystem points elsewhere. Targets are the tree's own business; ctr
        // resolves them inside the tree, never on the host.
        symlinks.push({path, target: String(entry.linkpath), uid: entry.uid, gid: entry.gid})
        expected.delete(rel)
        return false
      }
      const size = FILE_TYPES.has(type) ? Number(entry.size ?? 0) : 0
      const bytes = FILE_TYPES.has(type) ? blocksFor(size, space.blockSize) : type === 'Directory' ? space.blockSize : 0
      if (!budget.add(bytes, type === 'Link' ? 0 : 1)) {
        stop(noSpace(space, budget.needed()))
        return false
      }
      expected.set(rel, {entry, type, size, mode: typeof entry.mode === 'number' ? entry.mode & 0o7777 : undefined})
      return true
    },
    onwarn: (code, _message, data) => {
      // An Error is a write that failed (the file is left short or missing): fatal. A plain
      // warning is an entry node-tar refused to write (a ".." path, one escaping the tree),
      // which is left out and not expected on disk; TAR_ENTRY_INFO (an absolute path made
      // relative) is written all the same.
      // Garbage before any entry is not a tar at all; after some, a damaged one.
      if (data instanceof Error && code.startsWith('TAR_') && expected.size === 0) stop(notTar(source))
      else if (data instanceof Error && code.startsWith('TAR_')) stop(new CtrError('INVALID_IMAGE', `${source} is a damaged tar archive (${code} after ${expected.size} entries)`, {hints: ['nothing was kept; download or export it again']}))
      else if (data instanceof Error) stop(isNoSpace(data) ? data : unpackError(source, data))
      else if (code === 'TAR_ENTRY_ERROR' && data.entry) refused.add(data.entry)
    },
  })
  const counter = byteCounter(total, 'read', hooks.onProgress)
  // Unpack finishes writing files after its input ends: 'close' is when all of them are on disk.
  const unpacked = new Promise<void>((resolve, reject) => {
    unpack.on('close', () => resolve())
    unpack.on('error', reject)
  })
  // Seen by the pipeline too: whichever rejects first is reported, the other must not be unhandled.
  unpacked.catch(() => {})
  const signal = hooks.signal ? AbortSignal.any([hooks.signal, stopper.signal]) : stopper.signal
  try {
    await pipeline(stream, counter, unpack as unknown as Writable, {signal})
    await unpacked
    if (fatal) throw fatal
  } catch (error) {
    // Let the files already being written finish before the staging dir is discarded.
    await Promise.race([unpacked.catch(() => {}), sleep(2000)])
    // A write that found the disk full says what is free now (stageImage turns it into NO_SPACE).
    if (fatal && !hooks.signal?.aborted) throw fatal
    if (isDownloadError(error)) throw downloadError(source, error)
    if (errnoCode(error) === 'TAR_BAD_ARCHIVE') throw notTar(source)
    rethrow(error, hooks.signal, `reading ${source}`)
  }
  // The tree holds no symlink yet (they are made below), so these paths cannot lead out of it.
  for (const [rel, want] of expected) {
    if (refused.has(want.entry)) continue
    const host = join(dir, rel)
    const info = await lstat(host).catch(() => undefined)
    const short = FILE_TYPES.has(want.type) && (!info?.isFile() || info.size !== want.size)
    if (!info || short || (want.type === 'Directory' && !info.isDirectory())) {
      const now = await freeSpace(dir)
      if (isFull(now)) throw noSpace(now)
      const found = !info ? 'is missing' : short ? `has ${info.isFile() ? info.size : 0} of its ${want.size} bytes` : 'is not a directory'
      throw new CtrError('INVALID_IMAGE', `unpacking ${source} went wrong: /${rel} ${found}`, {hints: ['nothing was kept; try again, and check the disk (dmesg) if it happens again']})
    }
    // After every chown (which clears setuid and setgid) and with no umask applied.
    if (want.mode !== undefined && want.type !== 'Link' && (info.mode & 0o7777) !== want.mode) await chmod(host, want.mode)
  }
  for (const link of symlinks) {
    await symlinkInTree(dir, `/${link.path}`, link.target).catch((error: unknown) => {
      // The archive also wrote entries below this path (lib -> usr/lib, then lib/x): a tree no
      // tar makes, and one whose files would land elsewhere than the archive says.
      if (['EISDIR', 'EEXIST', 'ENOTEMPTY'].includes(errnoCode(error) ?? '')) {
        throw new CtrError('INVALID_IMAGE', `${source} has entries below /${entryPath(link.path)}, which it also makes a symlink (to ${link.target})`, {
          hints: ['nothing was kept; give an archive whose files are not written through its own symlinks'],
        })
      }
      throw error
    })
    if (link.uid !== undefined && link.gid !== undefined) await lchown(await resolveInTree(dir, `/${link.path}`), link.uid, link.gid)
  }
  return entries
}

/** A write of an entry that failed for a reason other than space. */
function unpackError(source: string, error: Error & {path?: string; code?: string}): CtrError {
  return new CtrError('INVALID_IMAGE', `cannot unpack ${source}: ${error.code ?? 'error'} writing ${error.path ?? 'an entry'}`, {
    hints: ['nothing was kept; the archive is damaged or holds an entry this host cannot make'],
    cause: error,
  })
}

function rethrow(error: unknown, signal: AbortSignal | undefined, what: string): never {
  if (signal?.aborted) throw new CtrError('INTERRUPTED', `${what} was interrupted; nothing was kept`)
  if (error instanceof CtrError) throw error
  const code = errnoCode(error)
  if (code === 'ENOSPC') throw new CtrError('NO_SPACE', `no space left during ${what}`, {hints: ['free some disk space and try again'], cause: error})
  if (code?.startsWith('TAR_') || code === 'Z_DATA_ERROR') {
    throw new CtrError('INVALID_IMAGE', `${what}: a damaged tar archive (${(error as Error).message})`, {cause: error})
  }
  throw error
}

function notTar(source: string): CtrError {
  return new CtrError('INVALID_IMAGE', `${source} is not a tar archive (plain or gzip)`, {hints: ['give a root filesystem as .tar or .tar.gz, e.g. one written by ctr images export']})
}
