import {Args, Flags} from '@oclif/core'
import {createInterface} from 'node:readline/promises'
import {CtrCommand} from '../src/cli/base-command.js'
import {printItemError} from '../src/cli/batch.js'
import {CtrError} from '../src/errors.js'
import {batchExitCode} from '../src/containers/lifecycle.js'
import {removeContainers, type RemoveReport} from '../src/containers/remove.js'

export default class Rm extends CtrCommand {
  static summary = 'Remove containers (a running one is refused: stop it first).'
  static examples = [
    {description: 'Remove web1, asking first', command: '<%= config.bin %> rm web1'},
    {description: 'Remove several without asking', command: '<%= config.bin %> rm --force web1 web2'},
  ]

  static strict = false
  static args = {name: Args.string({description: 'container names', required: true})}
  static flags = {force: Flags.boolean({char: 'f', description: 'do not ask'})}

  async run(): Promise<RemoveReport[]> {
    const {argv, flags, root} = await this.parseCommon(Rm)
    const names = argv as string[]
    if (!flags.force) await this.confirm(`remove ${names.join(', ')} and everything in ${names.length > 1 ? 'them' : 'it'}?`)
    const reports = await removeContainers(root, names)
    for (const r of reports) {
      if (r.removed) this.say(`removed ${r.name}`)
      else printItemError(r.name, r.error ?? {message: 'not removed', hints: []}, this.jsonEnabled())
    }
    if (reports.some((r) => !r.removed)) process.exitCode = batchExitCode(reports.map((r) => r.error))
    return reports
  }

  private async confirm(question: string): Promise<void> {
    if (!process.stdin.isTTY) {
      throw new CtrError('CANCELLED', 'refusing to remove without asking: no terminal to ask on', {hints: ['pass --force to remove without asking']})
    }
    const rl = createInterface({input: process.stdin, output: process.stderr})
    const answer = await rl.question(`${question} [y/N] `)
    rl.close()
    if (!/^y(es)?$/i.test(answer.trim())) throw new CtrError('CANCELLED', 'nothing removed', {exitCode: 1})
  }
}
