/**
 * A real terminal for tests: a tmux server of the test's own (its socket in the test root, so no one
 * else's tmux is touched). Commands run in sessions; keys go in with send-keys, the screen comes
 * back with capture-pane, and a command's exit status is written to a file beside the socket.
 */
import {readFile} from 'node:fs/promises'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {execa} from 'execa'
import {skipReason} from './roots.js'

const tmuxMissing = (await execa('tmux', ['-V'], {reject: false}).catch(() => ({exitCode: 1}))).exitCode !== 0

/** Why a terminal test cannot run here; in CI a missing tmux is a failure (bin/setup installs it), never a skip. */
export function terminalSkipReason(): string | undefined {
  return skipReason() ?? (tmuxMissing && !process.env.CI ? 'tmux is not installed (apt-get install tmux); skipped' : undefined)
}

export class Terminal {
  private readonly socket: string

  constructor(private readonly dir: string) {
    this.socket = join(dir, 'tmux.sock')
  }

  tmux(...args: string[]) {
    return execa('tmux', ['-S', this.socket, ...args], {reject: false})
  }

  private exitFile(session: string): string {
    return join(this.dir, `${session}.exit-status`)
  }

  /**
   * Runs COMMAND (a shell line) in a new session of WIDTH x HEIGHT, as a person at a terminal would:
   * without CI in its environment (ink draws nothing until exit when CI is set, and CI runs the
   * tests with CI=true, which tmux would pass on). Its exit status goes to a file; the pane stays.
   */
  async run(session: string, command: string, size = {width: 100, height: 30}): Promise<void> {
    const line = `env -u CI -u CONTINUOUS_INTEGRATION ${command}; echo $? > ${this.exitFile(session)}; sleep 600`
    const created = await this.tmux('new-session', '-d', '-s', session, '-x', String(size.width), '-y', String(size.height), line)
    if (created.exitCode !== 0) throw new Error(`tmux new-session failed: ${created.stderr}`)
  }

  keys(session: string, ...keys: string[]) {
    return this.tmux('send-keys', '-t', session, ...keys)
  }

  /** Types TEXT literally (no key names). */
  type(session: string, text: string) {
    return this.tmux('send-keys', '-t', session, '-l', text)
  }

  async screen(session: string): Promise<string> {
    return (await this.tmux('capture-pane', '-p', '-t', session)).stdout
  }

  /** Polls the screen until it matches; returns every distinct screen seen on the way. */
  async waitForScreen(session: string, pattern: RegExp, timeoutMs = 60_000): Promise<{last: string; seen: string[]}> {
    const seen: string[] = []
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const text = await this.screen(session)
      if (seen.at(-1) !== text) seen.push(text)
      if (pattern.test(text)) return {last: text, seen}
      if (Date.now() > deadline) throw new Error(`the screen never matched ${pattern}; it shows:\n${text}`)
      await sleep(100)
    }
  }

  /** The exit status of the session's command, once it exited (undefined if not within TIMEOUT_MS). */
  async exitStatus(session: string, timeoutMs = 10_000): Promise<number | undefined> {
    const deadline = Date.now() + timeoutMs
    while (Date.now() < deadline) {
      const status = await readFile(this.exitFile(session), 'utf8').catch(() => undefined)
      if (status !== undefined && status.trim() !== '') return Number(status.trim())
      await sleep(100)
    }
    return undefined
  }

  /** Ends the tmux server and every session in it. */
  async close(): Promise<void> {
    await this.tmux('kill-server')
  }
}
