/**
 * Running the container's own systemctl inside a running container (before a poweroff that keeps
 * the ports, its ctr socket units are stopped; the quiet rule stops journald). It is a binary of the container's
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

/** systemctl ARGS inside container NAME (its PID 1 as the host sees it: LEADER); false, and logged as "could not WHAT", when it failed. */
export async function trySystemctlInside(name: string, leader: number | undefined, args: readonly string[], what: string, log: (message: string) => void): Promise<boolean> {
  if (leader === undefined) return false
  try {
    await systemctlInside(leader, args)
    return true
  } catch (error) {
    log(`${name}: could not ${what}: ${error instanceof Error ? error.message : String(error)}`)
    return false
  }
}

/**
 * Stops the container's ctr socket units (its copies of the passed sockets), before a poweroff that
 * keeps the ports: a connection that comes in during the shutdown then waits in the host's socket
 * for the next boot, instead of being accepted by a systemd that is going away, which closes it
 * unserved. False (and logged) when it could not.
 */
export function stopSocketUnits(name: string, leader: number | undefined, log: (message: string) => void): Promise<boolean> {
  return trySystemctlInside(name, leader, ['stop', 'ctr-*.socket'], 'stop its socket units first', log)
}
