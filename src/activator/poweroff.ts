/**
 * One orderly poweroff of a running container: SIGTERM to nspawn (which forwards it to the
 * container's systemd as its poweroff signal), that signal once more when systemd could not hear
 * the first, and SIGKILL after the timeout. Cancelled when nspawn has exited.
 */
import {signal} from '../sys/process.js'
import {containerLeader, hearsSignal, processName} from './proc.js'

/**
 * What nspawn sends the container's systemd on SIGTERM (its --kill-signal for -b): SIGRTMIN+3, 37
 * with glibc. PID 1 of a namespace drops a signal it has no handler for, so one that arrives in the
 * first tens of ms of a boot, before systemd blocks it for its signalfd, is lost, and the container
 * boots on as if nothing were asked (seen: a stop 30-80 ms into a boot hung until the kill timer).
 */
export const CONTAINER_POWEROFF_SIGNAL = 37
/** While stopping, how often to check that the container's systemd heard the poweroff. */
const POWEROFF_REPEAT_MS = 100

export interface PoweroffTarget {
  name: string
  nspawnPid: number
  /** The container's PID 1 as the host sees it, while it runs. */
  leaderPid: () => number | undefined
  timeoutMs: number
  log: (message: string) => void
}

export class Poweroff {
  private repeat?: NodeJS.Timeout
  private kill?: NodeJS.Timeout

  constructor(private readonly target: PoweroffTarget) {}

  start(): void {
    const {name, nspawnPid, timeoutMs, log} = this.target
    // A systemd that already hears it gets nspawn's signal; one still starting may drop it.
    const heard = this.systemdHears()
    signal(nspawnPid, 'SIGTERM')
    if (!heard) this.repeat = setInterval(() => this.repeatOnce(), POWEROFF_REPEAT_MS)
    this.kill = setTimeout(() => {
      log(`${name}: no poweroff after ${timeoutMs} ms, killing it`)
      // The container's init first: it would outlive a SIGKILLed nspawn (seen in CI) and keep
      // the passed sockets, so the port stays taken. Killing PID 1 of the namespace ends it all.
      const leader = containerLeader(nspawnPid)
      if (leader !== undefined) signal(leader, 'SIGKILL')
      signal(nspawnPid, 'SIGKILL')
    }, timeoutMs)
  }

  /** nspawn has exited: nothing more to send. */
  cancel(): void {
    clearInterval(this.repeat)
    clearTimeout(this.kill)
  }

  /**
   * Sends the container's systemd the poweroff signal again, once, as soon as it can hear it: nspawn
   * forwards SIGTERM as one signal, which a systemd still starting drops. (A second one to a systemd
   * already shutting down only logs "Received SIGRTMIN+3" once more.)
   */
  private repeatOnce(): void {
    if (!this.systemdHears()) return
    clearInterval(this.repeat)
    signal(this.target.leaderPid()!, CONTAINER_POWEROFF_SIGNAL)
  }

  /** The container's PID 1 is systemd and receives the poweroff signal (blocked for its signalfd). */
  private systemdHears(): boolean {
    const leader = this.target.leaderPid()
    return leader !== undefined && processName(leader) === 'systemd' && hearsSignal(leader, CONTAINER_POWEROFF_SIGNAL)
  }
}
