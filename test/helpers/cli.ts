/** Runs the built CLI (bin/ctr -> dist/) as a user would, against a test state root. */
import {existsSync} from 'node:fs'
import {dirname, join} from 'node:path'
import {fileURLToPath} from 'node:url'
import {execa} from 'execa'

/** This checkout: the nearest directory above this file with a package.json (from test/helpers, or from dist/test/helpers in a benchmark). */
export const CHECKOUT = (() => {
  let dir = dirname(fileURLToPath(import.meta.url))
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) dir = dirname(dir)
  return dir
})()

export const CTR = join(CHECKOUT, 'bin/ctr')

export async function ctr(root: string, args: string[], options: {input?: string; timeoutMs?: number} = {}) {
  // --root goes before a `--`, after which everything is the command run inside (ctr shell).
  const end = args.indexOf('--')
  const argv = end < 0 ? [...args, '--root', root] : [...args.slice(0, end), '--root', root, ...args.slice(end)]
  return execa(CTR, argv, {reject: false, input: options.input, timeout: options.timeoutMs ?? 300_000, env: {NO_COLOR: '1'}})
}
