/**
 * oclif's command_not_found hook: an unknown command is one line with a hint and exit 2, as every
 * other usage error of ctr, instead of oclif's " ›   Error: command foo not found".
 */
import type {Hook} from '@oclif/core'

const hook: Hook<'command_not_found'> = async function (options) {
  const id = options.id.replaceAll(':', ' ')
  const known = options.config.commands.map((c) => c.id.replaceAll(':', ' ')).filter((c) => !c.includes(' ') || id.includes(' '))
  const close = known.filter((c) => c.startsWith(id.split(' ')[0].slice(0, 2)))
  process.stderr.write(`ctr: unknown command ${JSON.stringify(id)}\n`)
  process.stderr.write(`  ${close.length > 0 ? `did you mean: ${close.slice(0, 3).map((c) => `ctr ${c}`).join(', ')}? ` : ''}see: ctr --help\n`)
  this.exit(2)
}

export default hook
