import {Args, Flags} from '@oclif/core'
import {CtrCommand} from '../src/cli/base-command.js'
import {printItemError} from '../src/cli/batch.js'
import {batchExitCode, failed, stopContainers, type BatchReport} from '../src/containers/lifecycle.js'

export default class Stop extends CtrCommand {
  static summary = 'Power containers off (orderly) and release their ports, or keep them held with --hold.'
  static description = `SIGTERM to systemd-nspawn is an orderly poweroff of the container; after a timeout it is killed. Without --hold the activator lets the ports go; with --hold it keeps them, so the next connection boots the container again: the container's socket units are stopped first, so a connection that comes in during the poweroff waits in the held socket for that boot. Connections the container had accepted get 2 s to end; sessions still open then end with the poweroff.`
  static strict = false
  static examples = [
    {description: 'Power off web1 and free its ports', command: '<%= config.bin %> stop web1'},
    {description: 'Power off, next connection wakes it again', command: '<%= config.bin %> stop --hold web1 web2'},
  ]

  static args = {
    name: Args.string({description: 'container names', required: true}),
  }

  static flags = {
    hold: Flags.boolean({description: 'keep the ports held: the container sleeps until the next connection', aliases: ['keep-ports']}),
  }

  async run(): Promise<BatchReport> {
    const {argv, flags, root} = await this.parseCommon(Stop)
    const report = await stopContainers(root, argv as string[], {keepPorts: flags.hold ?? false})
    for (const item of report.items) {
      if (item.error) printItemError(item.name, item.error, this.jsonEnabled())
      else {
        this.say(flags.hold ? `${item.name}: powered off, ports held` : `${item.name}: stopped, ports released`)
      }
    }
    if (failed(report)) process.exitCode = batchExitCode(report.items.map((i) => i.error))
    return report
  }
}
