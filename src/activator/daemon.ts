/**
 * The activator as a process of its own: `node daemon.js --root ROOT [--debug]`. This is what
 * `ctr start` launches in the background, and what `ctr activator` runs in the foreground. It
 * imports only the engine (no oclif, ink, react or got), to stay small: it holds every port of
 * every started container for as long as the host runs.
 */
import {realpathSync, statSync, writeSync} from 'node:fs'
import {fileURLToPath} from 'node:url'
import {setDebug} from '../log.js'
import {stateRoot} from '../store/paths.js'
import {closeInheritedFds} from '../sys/fds.js'
import {becomeSubreaper} from '../sys/libc.js'
import {startActivator} from './server.js'
import {ownUnit, restartQueued} from './systemd-unit.js'

export async function runActivatorProcess(argv: readonly string[]): Promise<void> {
  const rootFlag = argv.indexOf('--root')
  const root = stateRoot(rootFlag >= 0 ? argv[rootFlag + 1] : undefined)
  if (argv.includes('--debug')) setDebug(true)
  const log = (message: string) => process.stdout.write(`${new Date().toISOString()} ${message}\n`)
  const strays = closeInheritedFds()
  if (strays.length > 0) log(`closed fds inherited from the parent: ${strays.join(', ')}`)
  becomeSubreaper()
  const entry = fileURLToPath(import.meta.url)
  // --takeover: replace the activator that runs now (ctr activator --restart, or a newer build).
  const running = await startActivator({
    root,
    log,
    takeover: argv.includes('--takeover'),
    build: {entry, mtimeMs: statSync(entry).mtimeMs},
    onHandedOver: () => process.exit(0),
  })
  let stopping = false
  const stop = async (signalName: string) => {
    if (stopping) return
    stopping = true
    // The stop half of `systemctl restart` (systemd-unit.ts): leave all as a crash would, for the next one to take.
    const unit = ownUnit()
    if (signalName === 'SIGTERM' && unit && (await restartQueued(unit))) {
      writeSync(1, `${new Date().toISOString()} SIGTERM: systemd restarts ${unit}; the socket holder keeps every port and the containers run on, for the next activator\n`)
      // Gone at once, as in a crash (process.exit() here was seen to hang until systemd's stop timeout).
      process.kill(process.pid, 'SIGKILL')
    }
    log(`${signalName}: powering off running containers; the ports stay recorded as held`)
    void running.close().then(() => process.exit(0))
  }
  process.on('SIGTERM', () => void stop('SIGTERM'))
  process.on('SIGINT', () => void stop('SIGINT'))
  process.on('SIGHUP', () => {})
}

function isMain(): boolean {
  try {
    return process.argv[1] !== undefined && realpathSync(process.argv[1]) === fileURLToPath(import.meta.url)
  } catch {
    return false
  }
}

if (isMain()) {
  runActivatorProcess(process.argv.slice(2)).catch((error: unknown) => {
    const e = error as {message?: string; hints?: string[]}
    process.stderr.write(`ctr activator: ${e.message ?? String(error)}\n`)
    for (const hint of e.hints ?? []) process.stderr.write(`  ${hint}\n`)
    process.exit(1)
  })
}
