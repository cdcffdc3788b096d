/** What every group of safety cases shares: the sentinel, a work dir for archives, the cached base, a key pair. */
import {lstat, mkdir, readFile, rm, symlink} from 'node:fs/promises'
import {join} from 'node:path'
import {mountRootfs} from '../../src/rootfs/mount.js'
import {containerPaths} from '../../src/store/paths.js'
import type {Case, RunResult, Sentinel} from './harness.js'
import {runCtr} from './harness.js'

export interface Context {
  s: Sentinel
  P: string
  root: string
  /** Archives and key files made by the suite (outside P, removed at the end). */
  work: string
  /** The state root holding the cached base (CTR_TEST_CACHE). */
  cache: string
  /** The cached base exported once as a plain tar. */
  baseTar: string
  keys: {key: string; pub: string}
}

export interface Group {
  name: string
  before?: () => Promise<void>
  after?: () => Promise<void>
  cases: Case[]
}

export const BASE_ID = 'debian-bookworm'

/** The cached base linked into the (empty) state root, as test/helpers/roots.ts does. */
export async function linkBase(ctx: Context): Promise<void> {
  await mkdir(join(ctx.root, 'images'), {recursive: true})
  await symlink(join(ctx.cache, 'images', BASE_ID), join(ctx.root, 'images', BASE_ID))
}

/** Replaces PATH in TREE (a dir, file or link) by a symlink to TARGET. */
export async function plantLink(tree: string, path: string, target: string): Promise<void> {
  await rm(join(tree, path), {recursive: true, force: true})
  await symlink(target, join(tree, path))
}

/** A fresh root with the base linked and one container NAME made by the real CLI. */
export async function rootWithContainer(ctx: Context, name = 'c1'): Promise<void> {
  await ctx.s.emptyRoot()
  await linkBase(ctx)
  const made = await runCtr(ctx.root, ['create', 'debian', name, '--ssh-key', ctx.keys.pub])
  if (made.exitCode !== 0) throw new Error(`setup: ctr create ${name} failed: ${made.stderr}`)
}

/** The mounted tree of container NAME (mounted by ctr's own code if it is not). */
export async function containerTree(ctx: Context, name = 'c1'): Promise<string> {
  const record = JSON.parse(await readFile(containerPaths(ctx.root, name).record, 'utf8'))
  return mountRootfs(ctx.root, record)
}

/** Problems if anything of NAMES exists in the root. */
export function absent(ctx: Context, ...paths: string[]): (r: RunResult) => Promise<string[]> {
  return async () => {
    const problems: string[] = []
    for (const p of paths) if (await lstat(join(ctx.root, p)).then(() => true, () => false)) problems.push(`${p} was left in the root`)
    return problems
  }
}
