import {Args, Flags} from '@oclif/core'
import {CtrCommand} from '../src/cli/base-command.js'
import {cpusFlag, idleTimeoutFlag, memoryFlag, pidsFlag} from '../src/cli/flags.js'
import {formatBytes} from '../src/ui/format.js'
import {updateContainer, type UpdateReport} from '../src/containers/update.js'

export default class Update extends CtrCommand {
  static summary = 'Change a container\'s settings: idle timeout, boot profile, memory, CPU and process limits, network, user IDs.'
  static description = 'The idle timeout takes effect at once; the profile at the next boot. Limits are enforced by the kernel on the container\'s cgroup: from the next boot, and at once on a running container where the kernel takes them (a memory limit below what it uses now waits for the next boot).'
  static examples = [
    {description: 'Power web1 off after 5 idle minutes', command: '<%= config.bin %> update web1 --idle-timeout 300'},
    {description: 'Never power it off for idleness', command: '<%= config.bin %> update web1 --idle-timeout 0'},
    {description: 'Boot the distro\'s whole system from the next boot on', command: '<%= config.bin %> update web1 --profile full'},
    {description: 'At most 256 MiB of memory and 200 processes', command: '<%= config.bin %> update web1 --memory 256M --pids 200'},
    {description: 'At most half of one CPU', command: '<%= config.bin %> update web1 --cpus 0.5'},
    {description: 'No memory limit any more', command: '<%= config.bin %> update web1 --memory 0'},
    {description: 'User IDs of its own from the next boot (root inside is unprivileged on the host)', command: '<%= config.bin %> update shop --private-users'},
  ]

  static args = {name: Args.string({description: 'container name', required: true})}
  static flags = {
    'idle-timeout': idleTimeoutFlag({description: 'seconds without a connection before an orderly poweroff (0 = never, at most 30 days)'}),
    profile: Flags.string({description: 'boot profile: lean or full (takes effect at the next boot)'}),
    network: Flags.string({description: 'host, private (loopback only) or veth (an address of its own, NAT out); from the next boot', options: ['host', 'private', 'veth']}),
    'private-users': Flags.boolean({description: 'user IDs of its own (root inside unprivileged on the host), or --no-private-users for the host\'s; from the next boot', allowNo: true}),
    memory: memoryFlag({description: 'memory limit, e.g. 256M or 2G (swap included; 0 = none); past it, the kernel OOM-kills inside the container only'}),
    pids: pidsFlag({description: 'most processes and threads at once (0 = none)'}),
    cpus: cpusFlag({description: 'CPU time it may use, in CPUs (0.5: half of one; 0 = none); at once if it booted with a CPU limit, else from the next boot'}),
  }

  async run(): Promise<UpdateReport> {
    const {args, flags, root} = await this.parseCommon(Update)
    const report = await updateContainer(root, args.name, {idleTimeoutSec: flags['idle-timeout'], profile: flags.profile, memoryBytes: flags.memory, pids: flags.pids, cpus: flags.cpus, network: flags.network, privateUsers: flags['private-users']})
    const c = report.container
    this.say(
      report.changed.length === 0
        ? `${c.name}: nothing changed`
        : `${c.name}: idle timeout ${c.idleTimeoutSec > 0 ? `${c.idleTimeoutSec} s` : 'off'}, profile ${c.profile}${report.changed.includes('profile') ? ' (from the next boot)' : ''}, memory ${c.limits?.memoryBytes ? formatBytes(c.limits.memoryBytes) : 'unlimited'}, pids ${c.limits?.pids ?? 'unlimited'}, cpus ${c.limits?.cpus ?? 'unlimited'}, network ${c.network ?? 'host'}${c.address ? ` ${c.address}` : ''}${report.changed.includes('network') ? ' (from the next boot)' : ''}, user IDs ${c.privateUsers ? 'its own' : 'the host\'s'}${report.changed.includes('private-users') ? ' (from the next boot)' : ''}`,
    )
    return report
  }
}
