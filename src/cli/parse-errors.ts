/**
 * oclif's parse errors (unknown flag, missing or extra argument, bad flag value) made into one
 * CtrError line with a hint, instead of oclif's multi-line block and usage dump. The classes are
 * those of @oclif/core/lib/parser/errors.js (not exported, so they are told apart by name and
 * shape); each carries `parse` and oclif.exit 2.
 */
import {CtrError, isCtrError} from '../errors.js'

type ArgDef = {name?: string; description?: string}

/** What oclif throws while parsing: a CLIError (or our CtrError, re-messaged by oclif's parser). */
type ParseError = Error & {oclif?: {exit?: number}; flags?: unknown; args?: unknown; parse?: unknown}

const SEE_MORE = /\s*See more help with --help\s*$/
// oclif wraps a flag parser's error as "Parsing --NAME \n\t<message>\nSee more help with --help".
const PARSING = /^Parsing --([\w-]+) \n\t/

/** True for the errors oclif's parser throws (and the CtrErrors our flag parsers threw in it). */
export function isParseError(error: unknown): boolean {
  if (!(error instanceof Error)) return false
  if (PARSING.test(error.message)) return true
  if (isCtrError(error)) return false
  const e = error as ParseError
  return e.oclif !== undefined && e.constructor.name !== 'ExitError'
}

/**
 * The CtrError to show for oclif's parse error ERROR of the command COMMAND ("update",
 * "images export"), with USAGE its synopsis (e.g. "ctr update NAME") when known.
 */
export function usageError(error: Error, command: string, usage?: string): CtrError {
  const see = `see: ctr ${command} --help`
  const hints = usage ? [`usage: ${usage}`, see] : [see]
  const make = (message: string) => new CtrError('INVALID_ARGUMENT', message, {hints, cause: error, exitCode: 2})
  const e = error as ParseError
  const plain = stripAnsi(e.message).replace(SEE_MORE, '')

  // A flag parser of ours threw: its message is the line; oclif only wrapped it.
  const parsing = PARSING.exec(plain)
  if (parsing) {
    const inner = plain.slice(parsing[0].length).trim()
    return make(isCtrError(error) ? inner : flagValueMessage(parsing[1], inner))
  }
  switch (e.constructor.name) {
    case 'NonExistentFlagsError': {
      const flags = Array.isArray(e.flags) ? (e.flags as string[]) : []
      return make(`ctr ${command} has no flag${flags.length === 1 ? '' : 's'} ${flags.join(', ')}`)
    }
    case 'UnexpectedArgsError': {
      const extra = Array.isArray(e.args) ? (e.args as string[]) : []
      return make(`too many arguments: ${extra.map(quoteArg).join(' ')}`)
    }
    case 'RequiredArgsError': {
      const missing = Array.isArray(e.args) ? (e.args as ArgDef[]) : []
      const names = missing.map((a) => `${(a.name ?? 'argument').toUpperCase()}${a.description ? `: ${a.description}` : ''}`)
      return make(`missing ${names.join('; ') || 'an argument'}`)
    }
    case 'FailedFlagValidationError':
      return make(validationMessage(plain))
    default:
      return make(otherMessage(plain))
  }
}

/** oclif's own flag parsers (integer, option): "Expected an integer but received: abc". */
function flagValueMessage(flag: string, inner: string): string {
  const received = /received: (.*)$/s.exec(inner)?.[1]
  if (/^Expected an integer/.test(inner)) return `--${flag} must be a whole number${received === undefined ? '' : `, not '${received}'`}`
  return `--${flag}: ${lowerFirst(inner.split('\n')[0])}`
}

/** "The following error occurred:\n  Missing required flag distro" and the like. */
function validationMessage(plain: string): string {
  const reasons = plain
    .split('\n')
    .slice(1)
    .map((line) => line.trim())
    .filter(Boolean)
    .map((reason) => {
      const missing = /^Missing required flag (\S+)$/.exec(reason)
      if (missing) return `--${missing[1]} is required`
      const exclusive = /^--([\w-]+)=\S* cannot also be provided when using --([\w-]+)$/.exec(reason)
      if (exclusive) return `--${exclusive[2]} and --${exclusive[1]} do not go together`
      return lowerFirst(reason)
    })
  return reasons.join('; ') || lowerFirst(plain.split('\n')[0])
}

/** The rest: "Flag --x expects a value", "Flag --x can only be specified once", ... */
function otherMessage(plain: string): string {
  const expects = /^Flag (--[\w-]+) expects a value$/.exec(plain)
  if (expects) return `${expects[1]} needs a value`
  const once = /^Flag (--[\w-]+) can only be specified once$/.exec(plain)
  if (once) return `${once[1]} is given more than once`
  // Keep the first line only: the promise is one line plus hints.
  return lowerFirst(plain.split('\n')[0].trim())
}

function quoteArg(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`
}

function lowerFirst(text: string): string {
  return /^[A-Z][a-z]/.test(text) ? text[0].toLowerCase() + text.slice(1) : text
}

function stripAnsi(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001B\[[0-9;]*m/g, '')
}
