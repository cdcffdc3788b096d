/**
 * Running the container's own systemctl inside a running container (the idle rule stops its ctr
 * socket units before poweroff, the quiet rule stops journald). It is a binary of the container's
 * tree, so it runs with no more than the container's own capabilities (src/nspawn/enter.ts) and
 * with no_new_privs: root inside may have replaced it with anything.
 */
import {enterArgv} from '../nspawn/enter.js'
import {capabilityBoundingSet} from './proc.js'

export async function systemctlInside(leader: number, args: readonly string[], timeoutMs = 10_000): Promise<void> {
  const argv = enterArgv({leader, boundingSet: capabilityBoundingSet(leader), noNewPrivs: true}, ['systemctl', ...args])
  // exec.ts (and execa with it) is loaded when first needed: not on the activator's wake path.
  const {run} = await import('../exec.js')
  await run(argv, {timeoutMs})
}
