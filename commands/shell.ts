import {Args} from '@oclif/core'
import {CtrCommand} from '../src/cli/base-command.js'
import {runShell} from '../src/containers/shell.js'

export default class Shell extends CtrCommand {
  static summary = 'A root shell inside a container (booting it first if it sleeps).'
  static description = 'Enters every namespace of the container\'s PID 1 (nsenter). A sleeping container is booted first; one that is not started is started (its ports held) and booted. With -- and a command after NAME, runs that instead of a login shell and exits with its status.'
  static enableJsonFlag = false
  static usage = '<%= command.id %> NAME [-- COMMAND...]'
  static examples = [
    {description: 'A shell in web1', command: '<%= config.bin %> shell web1'},
    {description: 'One command', command: '<%= config.bin %> shell web1 -- systemctl status ctr-ssh.socket'},
  ]

  static args = {
    name: Args.string({description: 'container name', required: true}),
  }

  async run(): Promise<void> {
    // What follows the first -- is the command, passed as it is (its own flags included); before
    // it, one NAME and ctr's flags. So `ctr shell a b` is refused (too many arguments) instead of
    // running b.
    const end = this.argv.indexOf('--')
    const command = end < 0 ? [] : this.argv.slice(end + 1)
    if (end >= 0) this.argv = this.argv.slice(0, end)
    const {args, root} = await this.parseCommon(Shell)
    process.exitCode = await runShell(root, args.name, command)
  }
}
