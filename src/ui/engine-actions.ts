/**
 * What the interactive `ctr ls` runs, backed by the activator and the store: its status, the
 * start/stop/restart/remove keys, and the detail pane's settings. No ink: commands/ls.ts builds
 * these and hands them to the view, which only sees the LsActions interface.
 */
import {callActivator, ensureActivator} from '../activator/client.js'
import {CtrError, isCtrError} from '../errors.js'
import {removeContainers} from '../containers/remove.js'
import type {StatusReport} from '../status/types.js'
import {getContainer, readContainer} from '../store/containers.js'
import type {ContainerDetails, LsActions} from './view-model.js'

export interface EngineHooks {
  /** The status, live from the activator or from the store when it is down. */
  fetchStatus(root: string): Promise<StatusReport>
  /** The last lines of a container's journal. */
  journalTail?(root: string, name: string, lines: number): Promise<string[]>
  /** Follows the journal until the signal fires. */
  followJournal?(root: string, name: string, signal: AbortSignal): Promise<void>
}

/** Journal lines the detail pane asks for (it shows as many of the newest as fit). */
const JOURNAL_LINES = 30

export function engineActions(root: string, hooks: EngineHooks): LsActions {
  const stateOf = async (name: string) => (await hooks.fetchStatus(root)).containers.find((c) => c.name === name)?.state
  const boot = async (name: string) => {
    await ensureActivator(root)
    await callActivator(root, {op: 'start', name, now: true})
  }
  return {
    async start(name) {
      // A container whose ports are held already starts by booting; otherwise as `ctr start`.
      if ((await stateOf(name)) === 'listening') {
        await boot(name)
        return `${name} booted`
      }
      await ensureActivator(root)
      await callActivator(root, {op: 'start', name, now: false})
    },
    async stop(name) {
      await callActivator(root, {op: 'stop', name, keepPorts: false})
    },
    async restart(name) {
      const state = await stateOf(name)
      if (state === 'running' || state === 'booting') await callActivator(root, {op: 'stop', name, keepPorts: true})
      await boot(name)
    },
    async remove(name) {
      const [report] = await removeContainers(root, [name], async (n) => {
        // Held ports go first, or the activator would keep a removed container's sockets.
        await callActivator(root, {op: 'forget', name: n}).catch((error: unknown) => {
          if (!(isCtrError(error) && error.code === 'ACTIVATOR_DOWN')) throw error
        })
      })
      if (!report.removed) {
        const e = report.error
        throw new CtrError('COMMAND_FAILED', e?.message ?? `${name} was not removed`, {hints: e?.hints})
      }
    },
    async details(name): Promise<ContainerDetails> {
      const record = await getContainer(root, name)
      const journal = hooks.journalTail ? await hooks.journalTail(root, name, JOURNAL_LINES) : ['(journal not available)']
      return {
        settings: [
          ['storage', `${record.storage}, image ${record.image}`],
          ['created', record.createdAt],
        ],
        journal,
      }
    },
    async followLogs(name, signal) {
      if (!(await readContainer(root, name))) throw new CtrError('NOT_FOUND', `no container named ${name}`)
      if (!hooks.followJournal) throw new CtrError('COMMAND_FAILED', 'following the journal is not available yet')
      await hooks.followJournal(root, name, signal)
    },
  }
}
