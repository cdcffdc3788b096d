/**
 * What every ctr command shares: --root, --debug, --json, and one way of showing a failure
 * (one line plus hints; the stack only under --debug; {error: {...}} under --json).
 */
import {existsSync} from 'node:fs'
import {Command, Flags, toConfiguredId, type Interfaces} from '@oclif/core'

// oclif's FlagOutput and ArgOutput (not exported): any object keyed by flag or argument name.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Output = {[name: string]: any}
import {CtrError, isCtrError} from '../errors.js'
import {isDebug, setDebug} from '../log.js'
import {stateRoot} from '../store/paths.js'
import {prepareRoot} from '../store/root.js'
import {requireRoot} from '../sys/privileges.js'
import {errnoError, isErrnoError} from './errno-errors.js'
import {isParseError, usageError} from './parse-errors.js'

export abstract class CtrCommand extends Command {
  static enableJsonFlag = true

  static baseFlags = {
    root: Flags.string({
      description: 'state root holding images, containers and the activator socket [default: /var/lib/ctr]',
      env: 'CTR_ROOT',
      helpGroup: 'GLOBAL',
    }),
    debug: Flags.boolean({description: 'print the commands ctr runs and stack traces of errors', helpGroup: 'GLOBAL'}),
  }

  /**
   * Every command reads or changes the state root, which only root may open (0700): it says so at
   * once instead of failing later with EACCES. A command that works without root sets this false.
   */
  static needsRoot = true

  /** Parses the command's flags and applies the global ones. */
  protected async parseCommon<F extends Output, B extends Output, A extends Output>(
    options: Interfaces.Input<F, B, A>,
  ): Promise<Interfaces.ParserOutput<F, B, A> & {root: string}> {
    const parsed = await this.parse(options)
    const flags = parsed.flags as {root?: string; debug?: boolean}
    if (flags.debug) setDebug(true)
    const needsRoot = (this.constructor as typeof CtrCommand).needsRoot
    if (needsRoot) requireRoot(`ctr ${this.commandName()}`)
    const root = stateRoot(flags.root)
    // A root an older ctr made 0755 is tightened by any command that opens it, reading ones too.
    if (needsRoot && existsSync(root)) await prepareRoot(root)
    return {...parsed, root}
  }

  /** An AbortSignal that fires on Ctrl-C or SIGTERM, so long work can clean up and exit. */
  protected interruptSignal(): AbortSignal {
    const controller = new AbortController()
    const onSignal = () => controller.abort()
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    return controller.signal
  }

  /** Prints text unless --json is on (oclif prints the returned value as JSON then). */
  protected say(text: string): void {
    if (!this.jsonEnabled()) process.stdout.write(text.endsWith('\n') ? text : `${text}\n`)
  }

  /** The command as typed: "update", "images export". */
  protected commandName(): string {
    return this.id ? toConfiguredId(this.id, this.config) : 'ctr'
  }

  /** "ctr update NAME", from the command's usage or its arguments. */
  private synopsis(): string {
    const ctor = this.constructor as typeof CtrCommand
    const usage = typeof ctor.usage === 'string' ? ctor.usage : Array.isArray(ctor.usage) ? ctor.usage[0] : undefined
    if (typeof usage === 'string') return `ctr ${usage.replace('<%= command.id %>', this.commandName())}`
    const args = Object.entries(ctor.args ?? {}).map(([name, arg]) => {
      const word = `${name.toUpperCase()}${ctor.strict === false ? '...' : ''}`
      return arg.required ? word : `[${word}]`
    })
    const flags = Object.keys(ctor.flags ?? {}).length > 0 ? ' [FLAGS]' : ''
    return ['ctr', this.commandName(), ...args].join(' ') + flags
  }

  protected async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    // this.exit() (ours below, or a command's) throws oclif's ExitError: let it end the process.
    if (error.constructor.name === 'ExitError') throw error
    const ctrError = toCtrError(error, this.commandName(), () => this.synopsis())
    if (this.jsonEnabled()) {
      this.logJson({error: ctrError.toJSON()})
    } else {
      process.stderr.write(`ctr: ${ctrError.message}\n`)
      for (const hint of ctrError.hints) process.stderr.write(`  ${hint.replaceAll('\n', '\n  ')}\n`)
    }
    // A parse error comes before --debug is applied: read it from the argv (before any --).
    const end = this.argv.indexOf('--')
    const debugFlag = (end < 0 ? this.argv : this.argv.slice(0, end)).includes('--debug')
    if (isDebug() || debugFlag) process.stderr.write(`${(ctrError.cause as Error | undefined)?.stack ?? ctrError.stack}\n`)
    return this.exit(ctrError.exitCode)
  }
}

/**
 * Any error as the one CtrError the CLI shows: oclif's parse errors as usage errors (exit 2),
 * Node's errno errors as one line about the path, anything else with its first line.
 */
export function toCtrError(error: Error, command: string, synopsis: () => string): CtrError {
  if (isParseError(error)) return usageError(error, command, synopsis())
  if (isCtrError(error)) return error
  if (isErrnoError(error)) return errnoError(error, command, process.getuid?.() === 0)
  return new CtrError('COMMAND_FAILED', (error.message || String(error)).split('\n')[0], {cause: error})
}
