import {Args, Flags} from '@oclif/core'
import {CtrCommand} from '../src/cli/base-command.js'
import {idleTimeoutFlag} from '../src/cli/flags.js'
import {updateContainer, type UpdateReport} from '../src/containers/update.js'

export default class Update extends CtrCommand {
  static summary = 'Change a container\'s settings: idle timeout, boot profile.'
  static examples = [
    {description: 'Power web1 off after 5 idle minutes', command: '<%= config.bin %> update web1 --idle-timeout 300'},
    {description: 'Never power it off for idleness', command: '<%= config.bin %> update web1 --idle-timeout 0'},
    {description: 'Boot the distro\'s whole system from the next boot on', command: '<%= config.bin %> update web1 --profile full'},
  ]

  static args = {name: Args.string({description: 'container name', required: true})}
  static flags = {
    'idle-timeout': idleTimeoutFlag({description: 'seconds without a connection before an orderly poweroff (0 = never, at most 30 days)'}),
    profile: Flags.string({description: 'boot profile: lean or full (takes effect at the next boot)'}),
  }

  async run(): Promise<UpdateReport> {
    const {args, flags, root} = await this.parseCommon(Update)
    const report = await updateContainer(root, args.name, {idleTimeoutSec: flags['idle-timeout'], profile: flags.profile})
    const c = report.container
    this.say(
      report.changed.length === 0
        ? `${c.name}: nothing changed`
        : `${c.name}: idle timeout ${c.idleTimeoutSec > 0 ? `${c.idleTimeoutSec} s` : 'off'}, profile ${c.profile}${report.changed.includes('profile') ? ' (from the next boot)' : ''}`,
    )
    return report
  }
}
