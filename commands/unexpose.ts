import {Args, Flags} from '@oclif/core'
import {CtrCommand} from '../src/cli/base-command.js'
import {unexposePort, type UnexposeReport} from '../src/containers/expose.js'
import {describeExposure} from '../src/store/containers.js'

export default class Unexpose extends CtrCommand {
  static summary = 'Stop exposing a port: the container no longer owns it and the activator lets it go.'
  static description = 'Removes the port from the container\'s socket unit and record, and the activator lets it go. The container must be off: a running one is refused (ctr stop --hold NAME, then unexpose).'
  static examples = [
    {description: 'Whichever container exposes 2222', command: '<%= config.bin %> unexpose 2222'},
    {description: 'Port 2223 of web1', command: '<%= config.bin %> unexpose 2223 -c web1'},
  ]

  static args = {
    port: Args.string({description: '[ADDRESS:]PORT as given to ctr expose', required: true}),
  }

  static flags = {
    container: Flags.string({char: 'c', description: 'container name (found from the port when left out)'}),
  }

  async run(): Promise<UnexposeReport> {
    const {args, flags, root} = await this.parseCommon(Unexpose)
    const report = await unexposePort(root, {spec: args.port, container: flags.container})
    this.say(`${report.container}: no longer exposes ${report.removed.map(describeExposure).join(', ')}`)
    return report
  }
}
