/**
 * Hostile tar archives, written byte by byte (ustar headers) so that they hold exactly what a
 * hostile archive would: `..` and absolute names, symlinks and hard links out of the tree, files
 * written through them, device nodes. GNU tar makes the sparse member and the bomb.
 */
import {createReadStream, createWriteStream} from 'node:fs'
import {lstat, readFile, truncate, writeFile} from 'node:fs/promises'
import {once} from 'node:events'
import {join} from 'node:path'
import {execa} from 'execa'

export type Entry =
  | {type: 'file'; path: string; data?: string | Buffer; mode?: number}
  | {type: 'dir'; path: string; mode?: number}
  | {type: 'symlink'; path: string; target: string}
  | {type: 'hardlink'; path: string; target: string}
  | {type: 'chr' | 'blk'; path: string; major: number; minor: number; mode?: number}
  | {type: 'fifo'; path: string}

const TYPEFLAG = {file: '0', hardlink: '1', symlink: '2', chr: '3', blk: '4', dir: '5', fifo: '6'} as const

function octal(value: number, width: number): string {
  return `${value.toString(8).padStart(width - 1, '0')}\0`
}

/** One ustar header (and the data blocks of a file). */
export function tarEntry(entry: Entry): Buffer {
  const header = Buffer.alloc(512)
  const data = entry.type === 'file' ? Buffer.from(entry.data ?? '') : Buffer.alloc(0)
  let name = entry.path
  let prefix = ''
  if (Buffer.byteLength(name) > 100) {
    const cut = name.lastIndexOf('/', 155)
    prefix = name.slice(0, cut)
    name = name.slice(cut + 1)
  }
  const mode = 'mode' in entry && entry.mode !== undefined ? entry.mode : entry.type === 'dir' ? 0o755 : entry.type === 'symlink' ? 0o777 : 0o644
  header.write(name, 0, 100)
  header.write(octal(mode, 8), 100)
  header.write(octal(0, 8), 108)
  header.write(octal(0, 8), 116)
  header.write(octal(data.length, 12), 124)
  header.write(octal(Math.floor(Date.now() / 1000), 12), 136)
  header.write('        ', 148)
  header.write(TYPEFLAG[entry.type], 156)
  if (entry.type === 'symlink' || entry.type === 'hardlink') header.write(entry.target, 157, 100)
  header.write('ustar\0', 257)
  header.write('00', 263)
  header.write('root', 265)
  header.write('root', 297)
  if (entry.type === 'chr' || entry.type === 'blk') {
    header.write(octal(entry.major, 8), 329)
    header.write(octal(entry.minor, 8), 337)
  }
  header.write(prefix, 345, 155)
  let sum = 0
  for (const byte of header) sum += byte
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148)
  const padded = Buffer.alloc(Math.ceil(data.length / 512) * 512)
  data.copy(padded)
  return Buffer.concat([header, padded])
}

/** A whole small archive: ENTRIES and the end-of-archive blocks. */
export async function writeTar(file: string, entries: Entry[]): Promise<string> {
  await writeFile(file, Buffer.concat([...entries.map(tarEntry), Buffer.alloc(1024)]))
  return file
}

/**
 * ENTRIES first, then the whole of the archive BASE (a real base exported by ctr): an importable
 * root filesystem that carries hostile members as well.
 */
export async function prependToTar(file: string, entries: Entry[], base: string): Promise<string> {
  const out = createWriteStream(file)
  out.write(Buffer.concat(entries.map(tarEntry)))
  const input = createReadStream(base)
  input.pipe(out)
  await once(out, 'close')
  return file
}

/** A tree archived by GNU tar from DIR (as root: owners and modes kept), members in ORDER. */
export async function gnuTar(file: string, dir: string, members: string[], extra: string[] = []): Promise<string> {
  await execa('tar', ['-C', dir, ...extra, '-cf', file, ...members])
  return file
}

/** A GNU sparse member: SIZE bytes of apparent size, a few real bytes at the start and the end. */
export async function sparseTar(file: string, dir: string, sizeBytes: number): Promise<string> {
  const member = join(dir, 'sparse-file')
  await writeFile(member, 'begin\n')
  await truncate(member, sizeBytes)
  const fd = await import('node:fs/promises').then((fs) => fs.open(member, 'r+'))
  await fd.write('end\n', sizeBytes - 4)
  await fd.close()
  await execa('tar', ['-C', dir, '--sparse', '--format=gnu', '-cf', file, 'sparse-file'])
  return file
}

/** A decompression bomb: a tar of one file of SIZE zero bytes, gzipped (a few MB on disk). */
export async function gzipBomb(file: string, dir: string, sizeBytes: number): Promise<string> {
  const member = join(dir, 'zeros')
  await writeFile(member, '')
  await truncate(member, sizeBytes)
  // No --sparse: tar reads and stores every zero, gzip squeezes them.
  await execa('sh', ['-c', `tar -C "$1" -cf - zeros | gzip -1 > "$2"`, 'sh', dir, file])
  await writeFile(member, '')
  return file
}

export async function sizeOf(file: string): Promise<number> {
  return (await lstat(file)).size
}

export async function textOf(file: string): Promise<string> {
  return readFile(file, 'utf8')
}
