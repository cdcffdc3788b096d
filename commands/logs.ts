import {Args, Flags} from '@oclif/core'
import {CtrCommand} from '../src/cli/base-command.js'
import {followLogs, readLogs} from '../src/containers/logs.js'

export default class Logs extends CtrCommand {
  static summary = 'Show a container\'s journal, running or not.'
  static description = 'nspawn runs containers with -j, so the journal lives in the container\'s tree; ctr reads it with journalctl -D.'
  static enableJsonFlag = false
  static examples = [
    {description: 'The last 50 lines', command: '<%= config.bin %> logs web1'},
    {description: 'Follow it', command: '<%= config.bin %> logs web1 -f -n 10'},
  ]

  static args = {
    name: Args.string({description: 'container name', required: true}),
  }

  static flags = {
    follow: Flags.boolean({char: 'f', description: 'keep printing new entries'}),
    lines: Flags.integer({char: 'n', description: 'how many of the last lines', default: 50, min: 0}),
  }

  async run(): Promise<void> {
    const {args, flags, root} = await this.parseCommon(Logs)
    if (flags.follow) {
      await followLogs(root, args.name, flags.lines, this.interruptSignal())
      return
    }
    const text = await readLogs(root, args.name, flags.lines)
    if (text) this.say(text)
  }
}
