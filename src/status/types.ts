/**
 * What `ctr ls` (table, --json, interactive view) shows of a container. The activator reports it
 * live; without the activator it is built from the store alone (live = false).
 */
import type {ContainerLimits, Exposure, NetworkMode} from '../store/containers.js'

/** broken: its record is damaged (lastError says how); nothing can be done with it but ctr rm. */
export type ContainerState = 'stopped' | 'listening' | 'booting' | 'running' | 'stopping' | 'broken'

/** Why a container last stopped. */
export type StopReason = 'idle' | 'user' | 'crashed' | 'exited' | 'boot-failed' | 'reboot-loop'

/**
 * What the activator remembers of a container across boots, releases (ctr stop) and its own
 * restarts (kept in held.json): part of every status.
 */
export interface ContainerHistory {
  /** Times the activator booted it on a connection. */
  wakes: number
  /** ISO time of the last wake-up, if any. */
  lastWakeAt?: string
  /** ms from the first connection to the container accepting it (the held socket's queue emptied). */
  lastWakeMs?: number
  lastStopReason?: StopReason
  /** What went wrong last (a boot failure with nspawn's last lines, a port that could not be held). */
  lastError?: string
}

export interface ContainerStatus extends ContainerHistory {
  name: string
  distro: string
  release: string
  profile: string
  state: ContainerState
  ports: Exposure[]
  /** Established connections on the exposed ports right now. */
  connections: number
  /** Seconds since the current boot started, when running. */
  uptimeSec?: number
  /**
   * Bytes of memory the container uses, when running: charged to its cgroup less the file cache the
   * kernel can drop (as docker stats counts), or, without a cgroup of its own, its processes' RSS.
   */
  memoryBytes?: number
  /** CPU time (seconds) the current boot has used, from its cgroup, when running. */
  cpuSec?: number
  /** Processes (tasks) in its cgroup, when running. */
  tasks?: number
  idleTimeoutSec: number
  /** host: the host's network; private: loopback only, its ports passed in (ctr create/update --network). */
  network?: NetworkMode
  /** With network veth: its address. */
  address?: string
  /** true: a user namespace of its own (ctr create/update --private-users). */
  privateUsers?: boolean
  /** With privateUsers: the first host UID of its range (65536 IDs), when ctr chose it. */
  uidBase?: number
  /** Its limits (ctr create/update --memory, --pids), when it has any. */
  limits?: ContainerLimits
  /** Seconds left before idle shutdown, when running, idle and a timeout is set. */
  idleRemainingSec?: number
  /** pid of the systemd-nspawn process, when running. */
  pid?: number
}

export interface StatusReport {
  /** true when the activator answered; false when this was read from the store alone. */
  live: boolean
  containers: ContainerStatus[]
}
