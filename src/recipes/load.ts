/** Reads the data in rootfs-recipes/: distros and services are data, not code. */
import {existsSync, readFileSync, readdirSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'

/** rootfs-recipes/ of this package, found from here whether running from src/ or dist/src/. */
export function recipesDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (dir !== dirname(dir)) {
    const candidate = join(dir, 'rootfs-recipes')
    if (existsSync(candidate)) return candidate
    dir = dirname(dir)
  }
  throw new Error('rootfs-recipes/ not found beside the ctr package')
}

export function readRecipes<T>(kind: 'distros' | 'services' | 'profiles'): T[] {
  const dir = join(recipesDir(), kind)
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as T)
}
