import {Args} from '@oclif/core'
import {CtrCommand} from '../src/cli/base-command.js'
import {runShell} from '../src/containers/shell.js'

export default class Shell extends CtrCommand {
  static summary = 'A root shell inside a container (booting it first if it sleeps).'
  static description = 'Enters every namespace of the container\'s PID 1 (nsenter). A sleeping container is booted first; one that is not started is started (its ports held) and booted. With a command after NAME, runs that instead of a login shell and exits with its status.'
  static enableJsonFlag = false
  static strict = false
  static examples = [
    {description: 'A shell in web1', command: '<%= config.bin %> shell web1'},
    {description: 'One command', command: '<%= config.bin %> shell web1 -- systemctl status ctr-ssh.socket'},
  ]

  static args = {
    name: Args.string({description: 'container name', required: true}),
  }

  async run(): Promise<void> {
    const {args, argv, root} = await this.parseCommon(Shell)
    const command = (argv as string[]).slice(1)
    process.exitCode = await runShell(root, args.name, command)
  }
}
