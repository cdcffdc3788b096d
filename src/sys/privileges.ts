/** ctr mounts trees and boots containers: it needs root. */
import {CtrError} from '../errors.js'

export function requireRoot(what = 'this'): void {
  if (process.getuid?.() !== 0) {
    throw new CtrError('NOT_ROOT', `${what} needs root`, {hints: ['run it as root, e.g. with sudo']})
  }
}
