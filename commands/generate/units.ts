import {Args, Flags} from '@oclif/core'
import {stat, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {CtrCommand} from '../../src/cli/base-command.js'
import {CtrError} from '../../src/errors.js'
import {generateUnits, type GeneratedUnits} from '../../src/containers/generate.js'

export default class GenerateUnits extends CtrCommand {
  static summary = 'Print the seed\'s socket and service units for a container, for systemd alone to run it.'
  static description = `NAME.socket listens on every port the container exposes; its first connection starts NAME.service, which runs systemd-nspawn -jb on the container's tree with the options ctr uses (an overlay is mounted first; limits are the unit's MemoryMax=, TasksMax=, CPUQuota=). This is the pair of "Socket Activated OS Containers", without ctr's activator: no idle poweroff, and the ports are systemd's. Stop the container in ctr first (ctr stop NAME), or the socket cannot bind its ports.`
  static examples = [
    {description: 'Print both', command: '<%= config.bin %> generate units web1'},
    {description: 'Install and start them', command: '<%= config.bin %> stop web1 && <%= config.bin %> generate units web1 --dir /etc/systemd/system && systemctl daemon-reload && systemctl start web1.socket'},
  ]

  static args = {name: Args.string({description: 'container name', required: true})}
  static flags = {
    dir: Flags.string({description: 'write NAME.socket and NAME.service into this (existing) directory instead of printing them'}),
    force: Flags.boolean({description: 'with --dir: replace unit files of those names that are there already'}),
  }

  async run(): Promise<GeneratedUnits> {
    const {args, flags, root} = await this.parseCommon(GenerateUnits)
    const units = await generateUnits(root, args.name)
    for (const note of units.notes) process.stderr.write(`ctr: note: ${note}\n`)
    if (flags.dir) {
      const dir = await stat(flags.dir).catch(() => undefined)
      if (!dir?.isDirectory()) throw new CtrError('INVALID_ARGUMENT', `--dir ${flags.dir} is not a directory`, {hints: [`create it first: mkdir -p ${flags.dir}`]})
      for (const unit of [units.socket, units.service]) {
        // wx: a unit of that name there already is the user's, not replaced unless --force says so.
        await writeFile(join(flags.dir, unit.name), unit.text, {mode: 0o644, flag: flags.force ? 'w' : 'wx'}).catch((error: NodeJS.ErrnoException) => {
          if (error.code !== 'EEXIST') throw error
          throw new CtrError('EXISTS', `${join(flags.dir!, unit.name)} exists already`, {hints: [`replace it: ctr generate units ${args.name} --dir ${flags.dir} --force`]})
        })
      }
      this.say(`wrote ${units.socket.name} and ${units.service.name} to ${flags.dir}`)
    } else if (!this.jsonEnabled()) {
      process.stdout.write(`# --- ${units.socket.name}\n${units.socket.text}\n# --- ${units.service.name}\n${units.service.text}`)
    }
    return units
  }
}
