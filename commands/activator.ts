import {spawn} from 'node:child_process'
import {Flags} from '@oclif/core'
import {CtrCommand} from '../src/cli/base-command.js'
import {CtrError} from '../src/errors.js'
import {daemonArgs, restartActivator, stopActivator, type ActivatorStopReport} from '../src/activator/client.js'
import {activatorUnitText} from '../src/activator/unit.js'
import {debug} from '../src/log.js'
import {requireRoot} from '../src/sys/privileges.js'

export default class Activator extends CtrCommand {
  static summary = 'Run the activator in the foreground (for debugging and service managers), or stop the one that runs.'
  static description = `The activator holds the exposed ports of started containers and boots a container on its first connection. ctr start runs it in the background when it does not run (log in ROOT/activator/activator.log); this runs the same lean process in the foreground, logging to stdout, until SIGTERM or Ctrl-C, which power off the running containers. The ports stay recorded as held, so the next activator holds them again.

--restart replaces the running activator with a new one (of this build of ctr) that takes every held socket and every running container over: no port is closed at any moment and no container is powered off. A ctr of a newer build does the same by itself the first time it talks to an older activator.

--stop stops the running activator (background or foreground) the same way, by its pid, and waits until it is gone. Nothing listens on the held ports until ctr start or ctr activator runs one again.

--unit prints a systemd unit that runs the activator at boot (on hosts where systemd is PID 1), so held ports are held again after a reboot.`
  static examples = [
    '<%= config.bin %> activator',
    '<%= config.bin %> activator --debug --root /srv/ctr',
    {description: 'Power off every running container and stop holding ports', command: '<%= config.bin %> activator --stop'},
    {description: 'Replace the activator without closing a port or powering a container off', command: '<%= config.bin %> activator --restart'},
    {
      description: 'Hold the ports from boot on, on a host run by systemd',
      command: '<%= config.bin %> activator --unit > /etc/systemd/system/ctr-activator.service && systemctl enable --now ctr-activator',
    },
  ]

  static flags = {
    stop: Flags.boolean({description: 'stop the running activator: running containers are powered off, ports stay recorded', exclusive: ['unit', 'restart']}),
    restart: Flags.boolean({description: 'replace the running activator by a new one that takes every socket and running container over', exclusive: ['unit']}),
    unit: Flags.boolean({description: 'print a systemd service unit that runs the activator at boot'}),
  }

  // --unit only prints text; the rest needs root, checked below.
  static needsRoot = false

  async run(): Promise<ActivatorStopReport | {pid: number; replaced?: number} | void> {
    const {flags, root} = await this.parseCommon(Activator)
    if (flags.unit) {
      process.stdout.write(activatorUnitText(root))
      return
    }
    requireRoot(`ctr activator${flags.stop ? ' --stop' : flags.restart ? ' --restart' : ''}`)
    if (flags.stop) return this.stop(root)
    if (flags.restart) {
      const report = await restartActivator(root)
      this.say(report.replaced ? `the activator ${report.pid} took over from ${report.replaced}: every port held, every container running on` : `started the activator (pid ${report.pid})`)
      return report
    }
    if (this.jsonEnabled()) throw new CtrError('INVALID_ARGUMENT', '--json goes with --stop: the foreground activator logs lines', {hints: ['ctr activator --stop --json']})
    // The activator is its own small process (no oclif, ink or react in it); this one only waits
    // for it and passes signals on.
    const args = daemonArgs(root)
    debug(`+ ${process.execPath} ${args.join(' ')}`)
    const child = spawn(process.execPath, args, {stdio: 'inherit'})
    for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) process.on(signal, () => child.kill(signal))
    process.exitCode = await new Promise<number>((resolve, reject) => {
      child.once('error', reject)
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 : 1)))
    })
  }

  private async stop(root: string): Promise<ActivatorStopReport> {
    if (!this.jsonEnabled() && process.stderr.isTTY) process.stderr.write('stopping the activator (running containers are powered off)...\n')
    const report = await stopActivator(root)
    if (report.pid === undefined) this.say('the activator is not running')
    else {
      const off = report.poweredOff.length > 0 ? `; powered off ${report.poweredOff.join(', ')}` : ''
      this.say(`stopped the activator (pid ${report.pid})${off}; the held ports stay recorded and the next activator (ctr start, ctr activator) holds them again`)
    }
    return report
  }
}
