/** Where ctr keeps its state. /var/lib/ctr unless --root or CTR_ROOT says otherwise. */
import {join, relative, resolve, sep} from 'node:path'
import {CtrError} from '../errors.js'

export const DEFAULT_ROOT = '/var/lib/ctr'

export function stateRoot(flag?: string): string {
  return resolve(flag || process.env.CTR_ROOT || DEFAULT_ROOT)
}

export interface Layout {
  root: string
  lockFile: string
  tmp: string
  images: string
  containers: string
  activatorDir: string
}

export function layout(root: string): Layout {
  return {
    root,
    lockFile: join(root, '.lock'),
    tmp: join(root, 'tmp'),
    images: join(root, 'images'),
    containers: join(root, 'containers'),
    activatorDir: join(root, 'activator'),
  }
}

/**
 * PATH, if it lies strictly below ROOT once `..` and `.` are resolved; UNSAFE_PATH otherwise. Every
 * path ctr makes, locks or removes is built by the functions below, and each one passes here: a
 * name or id that slipped past validation still cannot reach outside the state root.
 */
export function assertUnderRoot(root: string, path: string): string {
  const base = resolve(root)
  const full = resolve(path)
  const rel = relative(base, full)
  if (rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || resolve(base, rel) !== full) {
    throw new CtrError('UNSAFE_PATH', `refusing ${JSON.stringify(path)}: it is not inside the state root ${base}`, {
      hints: ['this is a bug in ctr or a hostile name; nothing was changed'],
    })
  }
  return full
}

/** One path component made of NAME (a container name or image id): no "/", no "." or "..". */
function component(kind: string, name: string): string {
  if (name === '' || name === '.' || name === '..' || name.includes('/') || name.includes('\0')) {
    throw new CtrError('UNSAFE_PATH', `refusing ${kind} ${JSON.stringify(name)}: not a plain name`, {hints: ['names are letters, digits, "-", "." and "_"']})
  }
  return name
}

export function containerDir(root: string, name: string): string {
  return assertUnderRoot(root, join(layout(root).containers, component('container name', name)))
}

export function containerPaths(root: string, name: string) {
  const dir = containerDir(root, name)
  return {
    dir,
    record: join(dir, 'container.json'),
    /** The tree nspawn boots: an overlay mount point, or the copy itself with --copy. */
    rootfs: join(dir, 'rootfs'),
    upper: join(dir, 'upper'),
    work: join(dir, 'work'),
    /** With network veth: its network namespace, bound on this file while the host is up (network/veth.ts). */
    netns: join(dir, 'netns'),
  }
}

export function imagePaths(root: string, id: string) {
  const dir = assertUnderRoot(root, join(layout(root).images, component('image id', id)))
  return {dir, record: join(dir, 'image.json'), tree: join(dir, 'tree'), lock: join(layout(root).images, `.${id}.lock`)}
}
