/** The checked unpack of rootfs/image-archive.ts, on small archives made here with node-tar's Header. */
import {readdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {Header} from 'tar'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {entryPath, importImage} from '../../src/rootfs/image-archive.js'
import {layout} from '../../src/store/paths.js'

let work: string
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'ctr-archive-'))
})
afterEach(() => rm(work, {recursive: true, force: true}))

/** A plain tar of ENTRIES, owned by this process's user (so that it unpacks as any user). */
function tarOf(entries: Array<{path: string; type: 'File' | 'Directory' | 'SymbolicLink'; text?: string; linkpath?: string}>): Buffer {
  const blocks: Buffer[] = []
  for (const e of entries) {
    const data = Buffer.from(e.text ?? '')
    const header = Buffer.alloc(512)
    new Header({path: e.path, type: e.type, size: data.length, linkpath: e.linkpath, mode: e.type === 'File' ? 0o644 : 0o755, uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0, mtime: new Date()}).encode(header, 0)
    blocks.push(header, data, Buffer.alloc((512 - (data.length % 512)) % 512))
  }
  return Buffer.concat([...blocks, Buffer.alloc(1024)])
}

describe('entryPath', () => {
  it('is the path node-tar writes: no leading / or ./, no trailing /', () => {
    expect(entryPath('./usr/lib/')).toBe('usr/lib')
    expect(entryPath('/etc/os-release')).toBe('etc/os-release')
    expect(entryPath('./')).toBe('.')
    expect(entryPath('a//b/./c')).toBe('a/b/c')
  })
})

describe('importImage', () => {
  it('refuses an archive that writes files below a path it also makes a symlink, and keeps nothing', async () => {
    const archive = join(work, 'odd.tar')
    await writeFile(
      archive,
      tarOf([
        {path: './', type: 'Directory'},
        {path: './usr/lib/', type: 'Directory'},
        {path: './lib', type: 'SymbolicLink', linkpath: 'usr/lib'},
        {path: './lib/x', type: 'File', text: 'hello\n'},
        {path: './etc/os-release', type: 'File', text: 'ID=debian\nVERSION_CODENAME=bookworm\n'},
      ]),
    )
    const root = join(work, 'root')
    await expect(importImage(root, {source: archive, distro: 'debian'})).rejects.toMatchObject({
      code: 'INVALID_IMAGE',
      message: `${archive} has entries below /lib, which it also makes a symlink (to usr/lib)`,
    })
    expect((await readdir(layout(root).images)).filter((n) => !n.startsWith('.'))).toEqual([])
    expect(await readdir(layout(root).tmp)).toEqual([])
  })
})
