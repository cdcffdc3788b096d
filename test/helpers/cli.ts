/** Runs the built CLI (bin/ctr -> dist/) as a user would, against a test state root. */
import {fileURLToPath} from 'node:url'
import {execa} from 'execa'

export const CTR = fileURLToPath(new URL('../../bin/ctr', import.meta.url))

export async function ctr(root: string, args: string[], options: {input?: string; timeoutMs?: number} = {}) {
  // --root goes before a `--`, after which everything is the command run inside (ctr shell).
  const end = args.indexOf('--')
  const argv = end < 0 ? [...args, '--root', root] : [...args.slice(0, end), '--root', root, ...args.slice(end)]
  return execa(CTR, argv, {reject: false, input: options.input, timeout: options.timeoutMs ?? 300_000, env: {NO_COLOR: '1'}})
}
