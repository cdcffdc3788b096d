/**
 * Pure argv for systemd-nspawn. See systemd-nspawn(1).
 */
import {existsSync} from 'node:fs'
import {netnsPrefix} from '../network/run.js'
import type {ContainerLimits, NetworkMode} from '../store/containers.js'

export interface NspawnOptions {
  tree: string
  machine: string
  /** Host runs systemd as PID 1: nspawn may register with machined and create a scope. */
  hostHasSystemd: boolean
  /** Host directories bound read-only into the tree: [host path, path inside]. */
  bindsReadOnly?: ReadonlyArray<readonly [string, string]>
  /** Host directories bound read-write into the tree: [host path, path inside]. */
  bindsReadWrite?: ReadonlyArray<readonly [string, string]>
  /** On a systemd host, set on the machine's scope (elsewhere ctr writes its own cgroups, activator/cgroups.ts). */
  limits?: ContainerLimits
  /** private, veth: a network namespace of its own; the exposed ports still come in as passed sockets. */
  network?: NetworkMode
  /** With network private or veth: its network namespace file (src/network/netns.ts), which nspawn runs in. */
  netns?: string
  /** A user namespace of its own, the tree idmapped (never chowned: the base is shared). */
  privateUsers?: boolean
  /** Its range's first UID (unset: nspawn picks one). */
  uidBase?: number
  /** An overlay stacked on idmapped lowers, its upper stored shifted: the tree is in the range already (rootfs/idmap.ts). */
  shiftedTree?: boolean
  /** Extra arguments. */
  extra?: readonly string[]
  /** Capabilities kept beyond nspawn's defaults (ContainerRecord.capabilities). */
  capabilities?: readonly string[]
  /** System calls allowed beyond nspawn's filter (ContainerRecord.systemCalls). */
  systemCalls?: readonly string[]
}

/** nspawn's --bind syntax separates with ":"; one inside a path is written "\:". */
function bindPath(path: string): string {
  return path.replace(/\\/g, '\\\\').replace(/:/g, '\\:')
}

export function nspawnArgv(options: NspawnOptions): string[] {
  const argv = ['systemd-nspawn', '--quiet', '-D', options.tree, `--machine=${options.machine}`, '-b']
  // Without systemd as PID 1 there is no machined to register with and no unit to move into:
  // nspawn then fails unless told to stay in the caller's cgroup (--keep-unit) and not register.
  if (!options.hostHasSystemd) argv.push('--register=no', '--keep-unit')
  // The container's journald keeps its journal in the tree (/var/log/journal/MACHINE-ID: the base
  // has /var/log/journal), where `ctr logs` reads it with journalctl -D, running or not. No link to it
  // from the host's /var/log/journal (nspawn's default where that exists, and what -j makes): that is
  // a path outside the state root, left behind by every container removed, and it would have the
  // host's journald read files a container's root wrote. journalctl -M reads a running container's
  // journal through its root all the same.
  argv.push('--link-journal=no')
  if (options.hostHasSystemd && options.limits?.memoryBytes) argv.push(`--property=MemoryMax=${options.limits.memoryBytes}`, '--property=MemorySwapMax=0')
  if (options.hostHasSystemd && options.limits?.pids) argv.push(`--property=TasksMax=${options.limits.pids}`)
  if (options.hostHasSystemd && options.limits?.cpus) argv.push(`--property=CPUQuota=${Math.round(options.limits.cpus * 100)}%`)
  if (options.privateUsers) {
    const range = options.uidBase === undefined ? 'pick' : `${options.uidBase}:65536`
    argv.push(`--private-users=${range}`, `--private-users-ownership=${options.shiftedTree ? 'off' : 'map'}`)
  }
  for (const [host, inside] of options.bindsReadOnly ?? []) argv.push(`--bind-ro=${bindPath(host)}:${bindPath(inside)}`)
  for (const [host, inside] of options.bindsReadWrite ?? []) argv.push(`--bind=${bindPath(host)}:${bindPath(inside)}`)
  for (const c of options.capabilities ?? []) argv.push(`--capability=${c}`)
  if (options.systemCalls?.length) argv.push(`--system-call-filter=${options.systemCalls.join(' ')}`)
  argv.push(...(options.extra ?? []))
  // private, veth: nspawn runs in the namespace ctr made (network/netns.ts), with no network option of its own.
  return (options.network === 'private' || options.network === 'veth') && options.netns ? [...netnsPrefix(options.netns), ...argv] : argv
}

export interface NspawnRunOptions {
  tree: string
  machine: string
  hostHasSystemd: boolean
  env?: Record<string, string>
  command: readonly string[]
}

/**
 * argv that runs COMMAND inside TREE without booting it (a package install): the container's own
 * programs, in its namespaces, never on the host. Nothing of the host is written into the tree:
 * resolv.conf is bound (not copied), the time zone and journal are left alone.
 */
export function nspawnRunArgv(options: NspawnRunOptions): string[] {
  const argv = ['systemd-nspawn', '--quiet', '-D', options.tree, `--machine=${options.machine}`, '--pipe', '--resolv-conf=bind-host', '--timezone=off', '--link-journal=no']
  if (!options.hostHasSystemd) argv.push('--register=no', '--keep-unit')
  for (const [key, value] of Object.entries(options.env ?? {})) argv.push(`--setenv=${key}=${value}`)
  argv.push('--', ...options.command)
  return argv
}

/** sd_booted(3): the host runs systemd as init iff /run/systemd/system exists. */
export function hostHasSystemd(runDir = '/run/systemd/system'): boolean {
  return existsSync(runDir)
}
