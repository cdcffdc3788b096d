import {Args, Flags} from '@oclif/core'
import {CtrCommand} from '../src/cli/base-command.js'
import {linesFlag} from '../src/cli/flags.js'
import {followLogs, readLogs} from '../src/containers/logs.js'

export default class Logs extends CtrCommand {
  static summary = 'Show a container\'s journal, running or not.'
  static description = `nspawn runs containers with -j, so the journal lives in the container's tree; ctr reads it with journalctl -D. A container that has not booted has no journal yet: ctr logs says so, and ctr logs -f waits for its first boot and follows from there.

With --json, each entry is one JSON object a line, as journalctl -o json prints them.`
  static examples = [
    {description: 'The last 50 lines', command: '<%= config.bin %> logs web1'},
    {description: 'Follow it', command: '<%= config.bin %> logs web1 -f -n 10'},
    {description: 'Entries as JSON lines', command: '<%= config.bin %> logs web1 --json -n 5'},
  ]

  static args = {
    name: Args.string({description: 'container name', required: true}),
  }

  static flags = {
    follow: Flags.boolean({char: 'f', description: 'keep printing new entries (waits for the first boot when there is no journal yet)'}),
    lines: linesFlag({description: 'how many of the last lines', default: 50}),
  }

  async run(): Promise<void> {
    const {args, flags, root} = await this.parseCommon(Logs)
    // journalctl -o json prints the entries as JSON lines: they go to stdout as they are, and
    // nothing is returned, so oclif adds no JSON document of its own after them.
    const json = this.jsonEnabled()
    if (flags.follow) {
      await followLogs(root, args.name, flags.lines, this.interruptSignal(), {
        json,
        onWaiting: (message) => process.stderr.write(`ctr: ${message}\n`),
      })
      return
    }
    const text = await readLogs(root, args.name, flags.lines, {json})
    if (text) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
  }
}
