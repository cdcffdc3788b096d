/**
 * Entering a running container to run one of its programs (ctr shell, systemctl for the idle and
 * quiet rules). nsenter alone would give that program every capability of the caller, which is
 * more than nspawn gave the container (the container's PID 1: CapBnd 00000000fcecafff; a program
 * entered with `nsenter -a`: CapEff 000001fffeffffff, CAP_SYS_MODULE and the rest back). So the
 * host's setpriv first cuts its own bounding set to the container's PID 1's and clears the
 * inheritable and ambient sets; the host's nsenter it then runs, and whatever that runs from the
 * container's tree, can never hold more than the container itself (capabilities(7): on execve a
 * root process gets its bounding set as permitted set, no more).
 */
import {CtrError} from '../errors.js'

/** capabilities(7) by number, as setpriv(1) names them. */
const CAPABILITY_NAMES = [
  'chown', 'dac_override', 'dac_read_search', 'fowner', 'fsetid', 'kill', 'setgid', 'setuid', 'setpcap', 'linux_immutable',
  'net_bind_service', 'net_broadcast', 'net_admin', 'net_raw', 'ipc_lock', 'ipc_owner', 'sys_module', 'sys_rawio', 'sys_chroot',
  'sys_ptrace', 'sys_pacct', 'sys_admin', 'sys_boot', 'sys_nice', 'sys_resource', 'sys_time', 'sys_tty_config', 'mknod', 'lease',
  'audit_write', 'audit_control', 'setfcap', 'mac_override', 'mac_admin', 'syslog', 'wake_alarm', 'block_suspend', 'audit_read',
  'perfmon', 'bpf', 'checkpoint_restore',
]

/** setpriv's --bounding-set list for MASK: "-all,+chown,..." (only capabilities it can name). */
export function boundingSetList(mask: bigint): string {
  const kept = CAPABILITY_NAMES.filter((_, bit) => (mask >> BigInt(bit)) & 1n)
  return ['-all', ...kept.map((name) => `+${name}`)].join(',')
}

export interface EnterOptions {
  /** Host pid of the container's PID 1. */
  leader: number
  /** Its capability bounding set (CapBnd); the entered program gets no more. */
  boundingSet: bigint | undefined
  /** Forbid gaining privileges by exec (setuid, file capabilities): for ctr's own calls, not for shells. */
  noNewPrivs?: boolean
  /**
   * Cgroups to join before entering (the container's, in the hierarchies its limits are in):
   * nsenter enters namespaces, not cgroups, and a program run through it would otherwise be
   * counted against the caller's cgroup, past the container's memory and process limits.
   */
  cgroupDirs?: readonly string[]
}

/** $1: how many cgroup dirs follow; the shell joins each (a builtin echo, no fork), then execs the rest, keeping its pid. */
const JOIN_CGROUPS = 'n=$1; shift; while [ "$n" -gt 0 ]; do echo $$ >"$1/cgroup.procs" || exit 125; shift; n=$((n-1)); done; exec "$@"'

/** argv that runs COMMAND (a path inside the container, and its arguments) in all the container's namespaces. */
export function enterArgv(options: EnterOptions, command: readonly string[]): string[] {
  if (options.boundingSet === undefined) {
    throw new CtrError('NOT_RUNNING', 'the container stopped before it could be entered', {hints: ['try again']})
  }
  const join = options.cgroupDirs?.length ? ['sh', '-c', JOIN_CGROUPS, 'sh', String(options.cgroupDirs.length), ...options.cgroupDirs] : []
  return [
    ...join,
    'setpriv',
    `--bounding-set=${boundingSetList(options.boundingSet)}`,
    '--inh-caps=-all',
    '--ambient-caps=-all',
    ...(options.noNewPrivs ? ['--no-new-privs'] : []),
    '--',
    'nsenter',
    '-t',
    String(options.leader),
    '-a',
    '--',
    ...command,
  ]
}
