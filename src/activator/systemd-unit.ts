/**
 * The activator as a service of the host's systemd (`ctr activator --unit`): which unit it runs as,
 * and how a `systemctl restart` of it closes no held port. A restart (SIGTERM with a restart job
 * queued for the unit) is an exit that leaves everything as a crash would: the socket holder keeps
 * every port, the containers run on, and the activator systemd starts next takes the ports back and
 * adopts the containers (the path the faults suite proves for kills). A stop still powers the
 * containers off and lets the ports go.
 *
 * `systemctl kill` signals every process of the service's cgroup. So that it too is a crash of the
 * activator alone, the socket holder and each nspawn are moved out of that cgroup at once, each
 * into a scope of its own (ctr-holder-PID.scope, ctr-nspawn-PID.scope), ordered before the
 * activator's unit: at a shutdown the activator stops first and powers its containers off in order.
 */
import {processCgroups} from './proc.js'

/** exec.ts (and execa with it) is loaded when first needed, not with the activator: its memory stays lean. */
const exec = () => import('../exec.js')

/** The service this process runs as, when systemd started it as one (INVOCATION_ID is set for services). */
export function ownUnit(env: NodeJS.ProcessEnv = process.env, cgroups: ReadonlyMap<string, string> = processCgroups('self')): string | undefined {
  if (!env.INVOCATION_ID) return undefined
  const path = cgroups.get('name=systemd') ?? cgroups.get('')
  const last = path?.split('/').pop()
  return last?.endsWith('.service') ? last : undefined
}

/** `systemctl list-jobs` text says UNIT has a restart job (the SIGTERM it got is the stop half of it). */
export function hasRestartJob(listJobs: string, unit: string): boolean {
  return listJobs.split('\n').some((line) => {
    const [, name, type] = line.trim().split(/\s+/)
    return name === unit && (type === 'restart' || type === 'try-restart' || type === 'reload-or-restart')
  })
}

/** UNIT is being restarted now (asked of systemd; false when it cannot say). */
export async function restartQueued(unit: string): Promise<boolean> {
  const {run} = await exec()
  const jobs = await run(['systemctl', 'list-jobs', '--no-legend', '--plain'], {timeoutMs: 5000}).catch(() => undefined)
  return jobs !== undefined && hasRestartJob(jobs.stdout, unit)
}

/** The name=systemd (v1) or unified (v2) cgroup path of PID; undefined when it is gone. */
function systemdCgroup(pid: number): string | undefined {
  const cgroups = processCgroups(pid)
  return cgroups.get('name=systemd') ?? cgroups.get('')
}

/** The argv of busctl asking systemd for a scope SCOPE of PID, stopped before UNIT's stop. */
export function scopeCall(pid: number, scope: string, description: string, unit: string): string[] {
  return [
    'busctl', 'call', '--quiet', 'org.freedesktop.systemd1', '/org/freedesktop/systemd1', 'org.freedesktop.systemd1.Manager',
    'StartTransientUnit', 'ssa(sv)a(sa(sv))', scope, 'fail',
    '4', 'PIDs', 'au', '1', String(pid), 'Description', 's', description, 'CollectMode', 's', 'inactive-or-failed', 'Before', 'as', '1', unit,
    '0',
  ]
}

/**
 * Moves PID (the socket holder, an nspawn: KIND) out of UNIT's cgroup into ctr-KIND-PID.scope and
 * waits until it is there (systemd starts the scope after the call returns). A PID in it already,
 * or gone meanwhile, needs nothing.
 */
export async function moveToScope(pid: number, kind: 'holder' | 'nspawn', description: string, unit: string): Promise<void> {
  const scope = `ctr-${kind}-${pid}.scope`
  if (systemdCgroup(pid)?.endsWith(`/${scope}`)) return
  const {run} = await exec()
  await run(scopeCall(pid, scope, description, unit), {timeoutMs: 10_000})
  for (let i = 0; i < 400; i++) {
    const path = systemdCgroup(pid)
    if (path === undefined || path.endsWith(`/${scope}`)) return
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
  throw new Error(`systemd did not move pid ${pid} into ${scope} within 2 s`)
}
