/**
 * What every ctr command shares: --root, --debug, --json, and one way of showing a failure
 * (one line plus hints; the stack only under --debug; {error: {...}} under --json).
 */
import {Command, Flags, type Interfaces} from '@oclif/core'

// oclif's FlagOutput and ArgOutput (not exported): any object keyed by flag or argument name.
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Output = {[name: string]: any}
import {CtrError, isCtrError} from '../errors.js'
import {isDebug, setDebug} from '../log.js'
import {stateRoot} from '../store/paths.js'

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

  /** Parses the command's flags and applies the global ones. */
  protected async parseCommon<F extends Output, B extends Output, A extends Output>(
    options: Interfaces.Input<F, B, A>,
  ): Promise<Interfaces.ParserOutput<F, B, A> & {root: string}> {
    const parsed = await this.parse(options)
    const flags = parsed.flags as {root?: string; debug?: boolean}
    if (flags.debug) setDebug(true)
    return {...parsed, root: stateRoot(flags.root)}
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

  protected async catch(error: Error & {exitCode?: number; oclif?: {exit?: number}}): Promise<unknown> {
    if (!isCtrError(error)) {
      // oclif's own errors (unknown flag, missing argument) and exits keep oclif's handling.
      if (error.oclif || error.constructor.name === 'ExitError') return super.catch(error)
      error = new CtrError('COMMAND_FAILED', error.message, {cause: error})
    }
    const ctrError = error as CtrError
    if (this.jsonEnabled()) {
      this.logJson({error: ctrError.toJSON()})
    } else {
      process.stderr.write(`ctr: ${ctrError.message}\n`)
      for (const hint of ctrError.hints) process.stderr.write(`  ${hint.replaceAll('\n', '\n  ')}\n`)
    }
    if (isDebug()) process.stderr.write(`${(ctrError.cause as Error | undefined)?.stack ?? ctrError.stack}\n`)
    return this.exit(ctrError.exitCode)
  }
}
