/**
 * Full disks, for real: the state root is a small tmpfs mounted by the suite. An import or a
 * create that runs out of space must say so in one line ("the state root's filesystem is full"),
 * exit non-zero and keep nothing; a decompression bomb must be stopped before it fills the disk
 * and be reported as that, not as a tree without systemd.
 */
import {readdir, statfs} from 'node:fs/promises'
import {join} from 'node:path'
import {execa} from 'execa'
import {gzipBomb, sparseTar} from './archives.js'
import type {Case, RunResult} from './harness.js'
import {BASE_ID, type Context, type Group, linkBase} from './context.js'

async function freeMb(dir: string): Promise<number> {
  const s = await statfs(dir)
  return (s.bavail * s.bsize) / 1e6
}

/** Fills the filesystem of DIR to the last block (a file inside the root). */
async function fill(dir: string): Promise<void> {
  await execa('sh', ['-c', 'dd if=/dev/zero of="$1" bs=1M status=none 2>/dev/null; dd if=/dev/zero of="$1.tail" bs=4k status=none 2>/dev/null; true', 'sh', join(dir, 'filler')])
}

export function diskCases(ctx: Context): Group {
  const {root, work} = ctx
  const bomb = join(work, 'bomb.tar.gz')
  const sparse = join(work, 'sparse.tar')
  const noSpace = {expectExit: 1, expectCode: 'NO_SPACE', message: /full/} as const
  /** Nothing kept: no image, no container NAME, nothing in tmp/, and the space given back. */
  const keptNothing = (freeBefore: () => number, name?: string) => async (): Promise<string[]> => {
    const problems: string[] = []
    // (the base a create case links in is not what the case made)
    const images = (await readdir(join(root, 'images')).catch(() => [] as string[])).filter((n) => !n.startsWith('.') && !(name && n === BASE_ID))
    if (images.length > 0) problems.push(`images/ keeps ${images.join(', ')}`)
    const tmp = await readdir(join(root, 'tmp')).catch(() => [] as string[])
    if (tmp.length > 0) problems.push(`tmp/ keeps ${tmp.join(', ')}`)
    if (name && (await readdir(join(root, 'containers')).catch(() => [] as string[])).includes(name)) problems.push(`containers/${name} was kept`)
    const free = await freeMb(root)
    if (free < freeBefore() - 2) problems.push(`only ${free.toFixed(0)} MB free after, ${freeBefore().toFixed(0)} MB before`)
    return problems
  }
  let free = 0
  const onTmpfs = (sizeMb: number, prepare?: () => Promise<void>) => async () => {
    await ctx.s.mountTmpfs(sizeMb)
    await prepare?.()
    free = await freeMb(root)
  }
  const importCase = (name: string, sizeMb: number, file: string, prepare?: () => Promise<void>, extra: Partial<Case> = {}): Case => ({
    name,
    args: ['images', 'import', file, '--distro', 'debian'],
    ...noSpace,
    json: false,
    timeoutMs: 120_000,
    setup: onTmpfs(sizeMb, prepare),
    check: keptNothing(() => free),
    ...extra,
  })
  return {
    name: 'full disks (tmpfs)',
    before: async () => {
      await gzipBomb(bomb, work, 1024 ** 3)
      await sparseTar(sparse, work, 1024 ** 3)
    },
    after: () => ctx.s.unmountTmpfs(),
    cases: [
      importCase('import a base onto a full tmpfs', 200, ctx.baseTar, () => fill(root)),
      importCase('import a base (211 MB) onto a 200 MB tmpfs: a late ENOSPC', 200, ctx.baseTar),
      importCase('import a base from standard input onto a 150 MB tmpfs', 150, '-', undefined, {
        args: ['images', 'import', '-', '--distro', 'debian'],
        stdin: {file: ctx.baseTar},
      }),
      importCase('import a gzip bomb (1 GiB of zeros in a few MB) onto a 200 MB tmpfs', 200, bomb),
      {
        name: 'import a sparse member of 1 GiB onto a 200 MB tmpfs',
        args: ['images', 'import', sparse, '--distro', 'debian'],
        expectExit: 1,
        expectCode: /NO_SPACE|INVALID_IMAGE/,
        json: false,
        timeoutMs: 120_000,
        setup: onTmpfs(200),
        check: keptNothing(() => free),
      },
      {
        name: 'create (overlay) on a full tmpfs',
        args: ['create', 'debian', 'full1', '--ssh-key', ctx.keys.pub],
        ...noSpace,
        json: false,
        setup: onTmpfs(20, async () => {
          await linkBase(ctx)
          await fill(root)
        }),
        check: keptNothing(() => free, 'full1'),
      },
      {
        name: 'create --copy (211 MB) on a 100 MB tmpfs',
        args: ['create', 'debian', 'full2', '--copy', '--ssh-key', ctx.keys.pub],
        ...noSpace,
        json: false,
        timeoutMs: 120_000,
        setup: onTmpfs(100, () => linkBase(ctx)),
        check: keptNothing(() => free, 'full2'),
      },
      {
        name: 'a base imported whole on a roomy tmpfs is all there (control)',
        args: ['images', 'import', ctx.baseTar, '--distro', 'debian'],
        expectExit: 0,
        timeoutMs: 120_000,
        setup: onTmpfs(600),
        check: async (r: RunResult) => {
          const {stdout} = await execa('du', ['-sb', join(root, 'images', BASE_ID, 'tree')], {reject: false})
          const bytes = Number(stdout.split(/\s/)[0])
          return r.exitCode === 0 && !(bytes > 150e6) ? [`the imported tree holds only ${bytes} bytes`] : []
        },
      },
    ],
  }
}

