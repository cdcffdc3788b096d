/**
 * What the interactive `ctr ls` runs, backed by the same engine functions as `ctr start`, `stop`,
 * `rm` and `logs`. No ink: commands/ls.ts builds these and hands them to the view, which only sees
 * the LsActions interface (and tests give it fakes).
 */
import {startContainers, stopContainers, type BatchReport} from '../containers/lifecycle.js'
import {followLogs, readLogs} from '../containers/logs.js'
import {removeContainers} from '../containers/remove.js'
import {CtrError, type ErrorCode} from '../errors.js'
import {getStatus} from '../status/collect.js'
import {getContainer} from '../store/containers.js'
import type {ContainerDetails, LsActions} from './view-model.js'

/** Journal lines the detail pane asks for (it shows as many of the newest as fit). */
const JOURNAL_LINES = 30
/** Lines of history `l` shows before following. */
const FOLLOW_LINES = 20

export function engineActions(root: string): LsActions {
  const stateOf = async (name: string) => (await getStatus(root)).containers.find((c) => c.name === name)?.state
  const boot = async (name: string) => throwIfFailed(await startContainers(root, [name], {now: true}))
  return {
    async start(name) {
      // Held already (listening): starting it means booting it now. Otherwise as `ctr start`.
      if ((await stateOf(name)) === 'listening') {
        await boot(name)
        return `${name} booted`
      }
      throwIfFailed(await startContainers(root, [name], {now: false}))
    },
    async stop(name) {
      throwIfFailed(await stopContainers(root, [name], {keepPorts: false}))
    },
    async restart(name) {
      const state = await stateOf(name)
      if (state === 'running' || state === 'booting') throwIfFailed(await stopContainers(root, [name], {keepPorts: true}))
      await boot(name)
    },
    async remove(name) {
      // Its held ports go first, or the activator would keep a removed container's sockets.
      const [report] = await removeContainers(root, [name])
      if (!report.removed) throw toError(report.error, `${name} was not removed`)
    },
    async details(name): Promise<ContainerDetails> {
      const record = await getContainer(root, name)
      const settings: ContainerDetails['settings'] = [
        ['storage', `${record.storage}, image ${record.image}`],
        ['created', record.createdAt],
      ]
      try {
        const text = await readLogs(root, name, JOURNAL_LINES)
        return {settings, journal: text.split('\n').filter((line) => line.length > 0)}
      } catch (error) {
        // No journal yet (never booted) is a fact to show, not a failure of the pane.
        return {settings, journal: [`(${error instanceof Error ? error.message : String(error)})`]}
      }
    },
    async followLogs(name, signal) {
      await followLogs(root, name, FOLLOW_LINES, signal)
    },
  }
}

function throwIfFailed(report: BatchReport): void {
  const failed = report.items.find((item) => item.error)
  if (failed) throw toError(failed.error, `${failed.name} failed`)
}

function toError(error: {code: string; message: string; hints: string[]} | undefined, fallback: string): CtrError {
  return new CtrError((error?.code ?? 'COMMAND_FAILED') as ErrorCode, error?.message ?? fallback, {hints: error?.hints})
}
