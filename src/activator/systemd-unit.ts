/**
 * The activator as a service of the host's systemd (`ctr activator --unit`): which unit it runs as,
 * and how a `systemctl restart` of it closes no held port. A restart (SIGTERM with a restart job
 * queued for the unit) is an exit that leaves everything as a crash would: the socket holder keeps
 * every port, the containers run on, and the activator systemd starts next takes the ports back and
 * adopts the containers (the path the faults suite proves for kills). A stop still powers the
 * containers off and lets the ports go. (`systemctl kill` signals the whole service, the holder and
 * each nspawn with it: only --kill-whom=main is a crash of the activator alone.)
 */
import {processCgroups} from './proc.js'

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
  const {run} = await import('../exec.js')
  const jobs = await run(['systemctl', 'list-jobs', '--no-legend', '--plain'], {timeoutMs: 5000}).catch(() => undefined)
  return jobs !== undefined && hasRestartJob(jobs.stdout, unit)
}
