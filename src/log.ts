/** Debug logging for `--debug` (or CTR_DEBUG=1): argv of external programs, activator decisions. */
let enabled = process.env.CTR_DEBUG === '1'

export function setDebug(on: boolean): void {
  enabled = on
  if (on) process.env.CTR_DEBUG = '1'
}

export function isDebug(): boolean {
  return enabled
}

export function debug(message: string): void {
  if (enabled) process.stderr.write(`${message}\n`)
}
