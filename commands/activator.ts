import {spawn} from 'node:child_process'
import {CtrCommand} from '../src/cli/base-command.js'
import {daemonArgs} from '../src/activator/client.js'
import {debug} from '../src/log.js'

export default class Activator extends CtrCommand {
  static summary = 'Run the activator in the foreground (for debugging and service managers).'
  static description = `The activator holds the exposed ports of started containers and boots a container on its first connection. ctr start runs it in the background when it does not run (log in ROOT/activator/activator.log); this runs the same lean process in the foreground, logging to stdout, until SIGTERM or Ctrl-C, which power off the running containers. The ports stay recorded as held, so the next activator holds them again.`
  static enableJsonFlag = false
  static examples = ['<%= config.bin %> activator', '<%= config.bin %> activator --debug --root /srv/ctr']

  async run(): Promise<void> {
    const {root} = await this.parseCommon(Activator)
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
}
