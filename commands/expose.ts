import {Args, Flags} from '@oclif/core'
import {CtrCommand} from '../src/cli/base-command.js'
import {exposePort, type ExposeReport} from '../src/containers/expose.js'
import {describeExposure} from '../src/store/containers.js'

export default class Expose extends CtrCommand {
  static summary = 'Expose a service of a container on a host port; the first connection boots the container.'
  static description = `Writes the service's socket unit into the container (enabled, so its systemd adopts the port the activator hands over) and records that the container owns ADDRESS:PORT. Without ADDRESS the port is bound on :: dual-stack (IPv4 and IPv6). Takes effect at the next boot when the container runs; a started container's port is held at once.`
  static examples = [
    {description: 'sshd of the only container on port 2222', command: '<%= config.bin %> expose 2222 ssh'},
    {description: 'sshd of web1 on 127.0.0.1 only', command: '<%= config.bin %> expose 127.0.0.1:2223 ssh -c web1'},
    {description: 'on an IPv6 address', command: '<%= config.bin %> expose [::1]:2224 ssh -c web1'},
  ]

  static args = {
    port: Args.string({description: '[ADDRESS:]PORT on the host, e.g. 2222, 127.0.0.1:2222, [::1]:2222', required: true}),
    service: Args.string({description: 'service in the container (ssh)', required: true}),
  }

  static flags = {
    container: Flags.string({char: 'c', description: 'container name (may be left out when there is only one)'}),
  }

  async run(): Promise<ExposeReport> {
    const {args, flags, root} = await this.parseCommon(Expose)
    const report = await exposePort(root, {spec: args.port, service: args.service, container: flags.container})
    const what = `${report.container}: ${describeExposure(report.exposure)}`
    if (report.unchanged) this.say(`${what} was exposed already`)
    else this.say(`exposed ${what}${report.held ? ' (held now)' : ''}`)
    if (report.nextBoot) this.say(`${report.container} runs: this takes effect at its next boot`)
    return report
  }
}
