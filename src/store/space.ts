/**
 * Free space on the state root's filesystem. Writes that would fill it are refused before they
 * start when their size is known (an archive's headers, a base tree to copy), and a write that
 * fails anyway (ENOSPC, EDQUOT) becomes the same one-line error: a full disk is never reported as
 * success, as a damaged archive, or as a tool's 10-line dump.
 */
import {statfs} from 'node:fs/promises'
import {dirname} from 'node:path'
import {CtrError, errnoCode} from '../errors.js'

export interface Space {
  /** Bytes an unprivileged writer may still use (f_bavail): the reserved blocks stay the host's. */
  freeBytes: number
  totalBytes: number
  /** Free inodes, or undefined where the filesystem has no fixed count (btrfs reports 0 files). */
  freeInodes?: number
  blockSize: number
}

const MB = 1e6

/** statfs(2) of PATH, or of its nearest existing parent (the dir may not be made yet). */
export async function freeSpace(path: string): Promise<Space> {
  for (let at = path; ; at = dirname(at)) {
    try {
      const s = await statfs(at)
      return {freeBytes: s.bavail * s.bsize, totalBytes: s.blocks * s.bsize, freeInodes: s.files > 0 ? s.ffree : undefined, blockSize: s.bsize}
    } catch (error) {
      if (errnoCode(error) !== 'ENOENT' || dirname(at) === at) throw error
    }
  }
}

/** What ctr leaves free for everything else: 5% of the filesystem, at most 64 MB. */
export function marginBytes(space: Pick<Space, 'totalBytes'>): number {
  return Math.min(64 * MB, Math.floor(space.totalBytes * 0.05))
}

/** The bytes a write may use before it counts as filling the disk. */
export function usableBytes(space: Space): number {
  return Math.max(0, space.freeBytes - marginBytes(space))
}

/** Bytes a file of SIZE takes on disk: whole blocks. */
export function blocksFor(size: number, blockSize: number): number {
  return Math.ceil(size / blockSize) * blockSize
}

const reports = new WeakSet<object>()

/**
 * NO_SPACE, in one line: what was free (and what must be free, the margin included, when known).
 * Inodes are named when they ran out first: a tree of many small files can fill a filesystem that
 * still has bytes.
 */
export function noSpace(space: Pick<Space, 'freeBytes' | 'freeInodes'>, neededBytes?: number, cause?: unknown): CtrError {
  const inodes = space.freeInodes !== undefined && space.freeInodes < 64 ? `, ${space.freeInodes} inodes free` : ''
  const needed = neededBytes === undefined ? '' : `, at least ${Math.ceil(neededBytes / MB)} MB needed`
  const error = new CtrError('NO_SPACE', `the state root's filesystem is full (${Math.floor(space.freeBytes / MB)} MB free${inodes}${needed})`, {
    hints: ['free some space (ctr images rm, ctr rm), or move the state root with --root, and try again'],
    cause,
  })
  reports.add(error)
  return error
}

/** Whether ERROR is already the one-line report made by noSpace() (which says more than ENOSPC). */
export function isSpaceReport(error: unknown): boolean {
  return typeof error === 'object' && error !== null && reports.has(error)
}

/** Whether ERROR is a write that failed for want of space (also as a tool's message, or an earlier NO_SPACE). */
export function isNoSpace(error: unknown): boolean {
  const code = errnoCode(error)
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'NO_SPACE') return true
  return /No space left on device|Disk quota exceeded/i.test(String((error as {message?: string})?.message ?? ''))
}

/** Whether the filesystem is full now: less than the margin free, or no inode left. */
export function isFull(space: Space): boolean {
  return space.freeBytes < marginBytes(space) || space.freeInodes === 0
}

/** Throws NO_SPACE unless NEEDED bytes fit on PATH's filesystem with the margin to spare. */
export async function requireSpace(path: string, neededBytes = 0): Promise<Space> {
  const space = await freeSpace(path)
  if (neededBytes > usableBytes(space) || space.freeBytes < marginBytes(space)) throw noSpace(space, neededBytes ? neededBytes + marginBytes(space) : undefined)
  return space
}

/**
 * A running tally against the space free when a write began: add() what each next piece will take,
 * and it says false (and keeps the total) the moment the total no longer fits.
 */
export function spaceBudget(space: Space): {add(bytes: number, inodes?: number): boolean; needed(): number} {
  const usable = usableBytes(space)
  let bytes = 0
  let inodes = 0
  return {
    add(more: number, moreInodes = 1) {
      bytes += more
      inodes += moreInodes
      return bytes <= usable && (space.freeInodes === undefined || inodes <= space.freeInodes)
    },
    /** What the pieces so far need free, the margin included. */
    needed: () => bytes + (space.freeBytes - usable),
  }
}
