/**
 * The seed's own pair of units for one container (`ctr generate units`), for users who want the
 * host's systemd alone to run it, as "Socket Activated OS Containers" does: NAME.socket listens on
 * every exposed port, and its first connection starts NAME.service, which runs `systemd-nspawn -jb`
 * on the container's tree with the options ctr uses. systemd passes the sockets to nspawn
 * (LISTEN_FDS), nspawn to the container's systemd, exactly as from ctr's activator.
 *
 * Pure text from the record and the paths it is given; what the host must run is named by
 * absolute path, as systemd wants it.
 */
import {nspawnArgv} from '../nspawn/argv.js'
import type {ContainerRecord} from '../store/containers.js'
import {listenValue} from './services.js'

export interface SeedUnitPaths {
  /** The tree nspawn boots (an overlay's mount point, or the copy). */
  rootfs: string
  /** An overlay's layers, top first, its upper and work dirs: mounted before nspawn starts. */
  overlay?: {lowers: readonly string[]; upper: string; work: string}
  /** Read-only binds: [host path, path inside] (a docroot, the record's --bind-ro). */
  binds: ReadonlyArray<readonly [string, string]>
  /** Read-write binds (the record's --bind). */
  bindsReadWrite?: ReadonlyArray<readonly [string, string]>
  nspawn: string
  mount: string
}

export interface SeedUnits {
  socket: {name: string; text: string}
  service: {name: string; text: string}
}

/** One argument of an Exec*= line: quoted when it must be, with systemd's specifiers ("%") and variables ("$") kept literal. */
export function unitArgument(arg: string): string {
  const escaped = arg.replace(/%/g, '%%').replace(/\$/g, '$$$$')
  return /[\s"'\\;]/.test(escaped) ? `"${escaped.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : escaped
}

function execLine(key: string, argv: readonly string[], ignoreFailure = false): string {
  return `${key}=${ignoreFailure ? '-' : ''}${argv.map(unitArgument).join(' ')}`
}

export function seedUnits(record: ContainerRecord, paths: SeedUnitPaths): SeedUnits {
  const name = record.name
  const header = `# ctr generate units ${name}: the seed's pair, for the host's systemd alone to run ${name}.`
  const socket = [
    header,
    '# Stop ctr holding its ports first (ctr stop ' + name + '), or this socket cannot bind them.',
    '[Unit]',
    `Description=Sockets of container ${name} (socket-activated, ctr)`,
    '',
    '[Socket]',
    ...record.ports.map((e) => `ListenStream=${listenValue(e)}`),
    '',
    '[Install]',
    'WantedBy=sockets.target',
    '',
  ]
  // As systemd-nspawn@.service: nspawn registers the service's own cgroup as the machine
  // (--keep-unit), which systemd delegates to it; limits are the unit's own properties.
  const argv = nspawnArgv({
    tree: paths.rootfs,
    machine: name,
    hostHasSystemd: true,
    bindsReadOnly: paths.binds,
    bindsReadWrite: paths.bindsReadWrite,
    capabilities: record.capabilities,
    systemCalls: record.systemCalls,
    privateUsers: record.privateUsers,
    uidBase: record.uidBase,
  })
  argv[0] = paths.nspawn
  argv.splice(argv.indexOf('-b'), 0, '--keep-unit')
  if (record.network === 'private') argv.push('--private-network')
  if (record.network === 'veth') argv.push('--network-veth')
  const service = [
    header,
    '[Unit]',
    `Description=Container ${name} (systemd-nspawn, ctr)`,
    `Requires=${name}.socket`,
    `After=${name}.socket`,
    `RequiresMountsFor=${paths.rootfs.replace(/\/[^/]+$/, '')}`,
    '',
    '[Service]',
    // Mounted already (by ctr, or an earlier start) is not a failure: nspawn then boots that tree.
    ...(paths.overlay
      ? [execLine('ExecStartPre', [paths.mount, '-t', 'overlay', 'overlay', '-o', `lowerdir=${paths.overlay.lowers.join(':')},upperdir=${paths.overlay.upper},workdir=${paths.overlay.work}`, paths.rootfs], true)]
      : []),
    execLine('ExecStart', argv),
    'Type=notify',
    'KillMode=mixed',
    'Delegate=yes',
    'Slice=machine.slice',
    ...(record.limits?.memoryBytes ? [`MemoryMax=${record.limits.memoryBytes}`, 'MemorySwapMax=0'] : []),
    ...(record.limits?.pids ? [`TasksMax=${record.limits.pids}`] : []),
    ...(record.limits?.cpus ? [`CPUQuota=${Math.round(record.limits.cpus * 100)}%`] : []),
    '',
  ]
  return {socket: {name: `${name}.socket`, text: socket.join('\n')}, service: {name: `${name}.service`, text: service.join('\n')}}
}
