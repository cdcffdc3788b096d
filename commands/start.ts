import {Args, Flags} from '@oclif/core'
import {CtrCommand} from '../src/cli/base-command.js'
import {printItemError} from '../src/cli/batch.js'
import {batchExitCode, failed, startContainers, type BatchReport} from '../src/containers/lifecycle.js'
import {describeExposure} from '../src/store/containers.js'

export default class Start extends CtrCommand {
  static summary = 'Hold the containers\' ports; each boots on its first connection.'
  static description = `The activator (started in the background when it does not run; log in ROOT/activator/activator.log) listens on every exposed port of the containers and boots a container when a connection comes, handing it the sockets. With --now the containers boot at once.`
  static strict = false
  static examples = [
    {description: 'Hold web1\'s ports', command: '<%= config.bin %> start web1'},
    {description: 'Boot two containers now', command: '<%= config.bin %> start --now web1 web2'},
  ]

  static args = {
    name: Args.string({description: 'container names', required: true}),
  }

  static flags = {
    now: Flags.boolean({description: 'boot now instead of on the first connection'}),
  }

  async run(): Promise<BatchReport> {
    const {argv, flags, root} = await this.parseCommon(Start)
    const report = await startContainers(root, argv as string[], {now: flags.now ?? false})
    if (report.activator?.started) this.say(`started the activator (pid ${report.activator.pid})`)
    for (const item of report.items) {
      if (item.error) printItemError(item.name, item.error, this.jsonEnabled())
      else if (item.status) {
        const ports = item.status.ports.map(describeExposure).join(', ') || 'no ports'
        const already = item.status.already ? 'already ' : ''
        this.say(item.status.state === 'listening' ? `${item.name}: ${already}listening on ${ports}` : `${item.name}: ${already}${item.status.state} (pid ${item.status.pid}), ${ports}`)
      }
    }
    if (failed(report)) process.exitCode = batchExitCode(report.items.map((i) => i.error))
    return report
  }
}
