import {Flags} from '@oclif/core'
import {CtrCommand} from '../src/cli/base-command.js'
import type {StatusReport} from '../src/status/types.js'
import {getStatus} from '../src/status/collect.js'
import {ACTIVATOR_DOWN_NOTE, formatNames, formatTable} from '../src/ui/table.js'
import {colorWanted} from '../src/ui/view-model.js'

export default class Ls extends CtrCommand {
  static summary = 'List containers: a live view on a terminal, a plain table otherwise.'
  static description = `On a terminal, ctr ls is an interactive view refreshed every second: arrows or j/k select, Enter shows a container's settings and last journal lines, s starts, x stops, r restarts, d removes (after asking), l follows the logs (Ctrl-C comes back), / filters by name, q quits.

When stdout is not a terminal (a pipe, a file), or with --json or -q, it prints once and exits: a plain table, the status as JSON, or the names. NO_COLOR turns colour off.`

  static aliases = ['ps']
  static examples = [
    {description: 'Watch every container live', command: '<%= config.bin %> ls'},
    {description: 'The plain table, e.g. for a script or a log', command: '<%= config.bin %> ls | cat'},
    {description: 'The full status as JSON', command: '<%= config.bin %> ls --json'},
    {description: 'Stop every container', command: '<%= config.bin %> stop $(<%= config.bin %> ls -q)'},
  ]

  static flags = {
    quiet: Flags.boolean({char: 'q', description: 'print only the names, one a line'}),
  }

  async run(): Promise<StatusReport> {
    const {flags, root} = await this.parseCommon(Ls)
    let last: StatusReport | undefined
    const fetchStatus = async () => (last = await getStatus(root))
    // Keys need a terminal on stdin too; a pipe on either side gets the table.
    if (process.stdout.isTTY && process.stdin.isTTY && !this.jsonEnabled() && !flags.quiet) {
      // Loaded only here: ink and React stay out of every other path (pipes, --json, the activator).
      const [{runLsApp}, {engineActions}] = await Promise.all([import('../src/ui/run-ls.js'), import('../src/ui/engine-actions.js')])
      await runLsApp({fetchStatus, actions: engineActions(root), color: colorWanted()})
      // What the view showed last: quitting must not wait for one more answer from the activator.
      return last ?? {live: false, containers: []}
    }
    const report = await fetchStatus()
    if (this.jsonEnabled()) return report
    if (flags.quiet) {
      process.stdout.write(formatNames(report))
      return report
    }
    if (!report.live) process.stderr.write(`ctr: ${ACTIVATOR_DOWN_NOTE}\n`)
    process.stdout.write(formatTable(report, {width: process.stdout.isTTY ? process.stdout.columns : undefined}))
    return report
  }
}
