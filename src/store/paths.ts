/** Where ctr keeps its state. /var/lib/ctr unless --root or CTR_ROOT says otherwise. */
import {join, resolve} from 'node:path'

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

export function containerDir(root: string, name: string): string {
  return join(layout(root).containers, name)
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
  }
}

export function imagePaths(root: string, id: string) {
  const dir = join(layout(root).images, id)
  return {dir, record: join(dir, 'image.json'), tree: join(dir, 'tree')}
}
