/**
 * The systemd host test bed (systemd-host-boot.ts) in a new test root over the test run's cached
 * base. (The benchmark, which has no vitest, boots one with bootSystemdHost.)
 */
import {cachedBase, makeTestRoot} from './roots.js'
import {bootSystemdHost, type SystemdHost, type SystemdHostOptions} from './systemd-host-boot.js'

export {HOST_PACKAGES, NESTED_ROOT, NESTED_VETH_RANGE, type SystemdHost} from './systemd-host-boot.js'

/** A systemd host in a new test root over the test run's cached base (roots.ts). */
export async function makeSystemdHost(options: SystemdHostOptions = {}): Promise<SystemdHost> {
  const {cacheRoot, id} = await cachedBase()
  return bootSystemdHost({...options, root: await makeTestRoot(), cacheRoot, id})
}

