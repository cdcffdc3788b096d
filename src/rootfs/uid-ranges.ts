/**
 * The UID ranges of --private-users containers: ctr's choice, made at create or update and kept in
 * the record (uidBase), from a part of the UID space that systemd leaves unused
 * (0x70000000-0x7FFDFFFF, above nspawn's own "pick" region), so two containers never share one and
 * none meets a range nspawn picks for a machine of its own. Kept apart from idmap.ts, which mounts:
 * tree-fs.ts needs only these numbers.
 */
import {CtrError} from '../errors.js'
import type {ContainerRecord} from '../store/containers.js'

/** IDs per container, as nspawn gives them (65536: every 16-bit UID). */
export const UID_RANGE = 65536
/** The first of ctr's ranges. */
export const FIRST_UID_BASE = 0x70000000
/** How many ranges fit below systemd's foreign UID range (0x7FFE0000). */
export const UID_RANGES = (0x7ffe0000 - FIRST_UID_BASE) / UID_RANGE

/** BASE is the first UID of one of ctr's ranges. */
export function isUidBase(base: unknown): base is number {
  return typeof base === 'number' && Number.isInteger(base) && base >= FIRST_UID_BASE && base < FIRST_UID_BASE + UID_RANGES * UID_RANGE && base % UID_RANGE === 0
}

/** The lowest of ctr's ranges that none of TAKEN (other containers' uidBase) is. */
export function allocateUidBase(taken: readonly number[]): number {
  const used = new Set(taken)
  for (let i = 0; i < UID_RANGES; i++) {
    const base = FIRST_UID_BASE + i * UID_RANGE
    if (!used.has(base)) return base
  }
  throw new CtrError('NO_SPACE', `no UID range is left for --private-users (${UID_RANGES} containers at most)`)
}


/** RECORD's overlay is stacked on idmapped lowers (idmap.ts): --private-users with a range of ctr's. */
export function idmapsLowers(record: Pick<ContainerRecord, 'storage' | 'privateUsers' | 'uidBase'>): boolean {
  return record.storage === 'overlay' && record.privateUsers === true && record.uidBase !== undefined
}
