import {CtrCommand} from '../src/cli/base-command.js'
import {isDebug} from '../src/log.js'

export default class Activator extends CtrCommand {
  static summary = 'Run the activator in the foreground (for debugging and service managers).'
  static description = `The activator holds the exposed ports of started containers and boots a container on its first connection. ctr start runs it in the background when it does not run; this runs it in the foreground, logging to stdout, until SIGTERM or Ctrl-C (which power off the running containers; the ports stay recorded, so the next activator holds them again).`
  static enableJsonFlag = false
  static examples = ['<%= config.bin %> activator', '<%= config.bin %> activator --debug --root /srv/ctr']

  async run(): Promise<void> {
    const {root} = await this.parseCommon(Activator)
    // The daemon module is the same one ctr start launches; here it runs in this process.
    const {runActivatorProcess} = await import('../src/activator/daemon.js')
    await runActivatorProcess(['--root', root, ...(isDebug() ? ['--debug'] : [])])
    // Stay up: the control socket and the held sockets keep the event loop busy until a signal.
  }
}
