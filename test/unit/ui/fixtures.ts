/** Containers in every state, as the activator would report them, for the ls view and table tests. */
import type {ContainerStatus, StatusReport} from '../../../src/status/types.js'

/** The fixed "now" the tests render at. */
export const NOW = Date.parse('2026-11-29T21:00:00Z')

function container(name: string, fields: Partial<ContainerStatus>): ContainerStatus {
  return {
    name,
    distro: 'debian',
    release: '12',
    profile: 'lean',
    state: 'listening',
    ports: [{port: 2222, service: 'ssh'}],
    connections: 0,
    wakes: 0,
    idleTimeoutSec: 300,
    ...fields,
  }
}

export const containers: ContainerStatus[] = [
  container('web', {
    state: 'running',
    ports: [{port: 2201, service: 'ssh'}],
    connections: 2,
    wakes: 7,
    lastWakeAt: '2026-11-29T20:57:00Z',
    lastWakeMs: 840,
    uptimeSec: 180,
    memoryBytes: 23.4 * 1024 * 1024,
    cpuSec: 12.5,
    tasks: 9,
    network: 'private',
    pid: 4242,
  }),
  container('db', {
    state: 'running',
    ports: [{port: 2202, service: 'ssh'}],
    wakes: 1,
    lastWakeAt: '2026-11-29T20:00:00Z',
    lastWakeMs: 1250,
    uptimeSec: 3600,
    memoryBytes: 41 * 1024 * 1024,
    cpuSec: 75,
    tasks: 14,
    idleRemainingSec: 250,
  }),
  container('cache', {state: 'booting', ports: [{port: 2203, service: 'ssh'}], connections: 1, wakes: 3}),
  container('queue', {state: 'stopping', ports: [{port: 2204, service: 'ssh'}], lastStopReason: 'idle'}),
  container('idler', {state: 'listening', ports: [{port: 2205, service: 'ssh'}], wakes: 12, lastStopReason: 'idle'}),
  container('old', {distro: 'fedora', release: '41', state: 'stopped', ports: [], lastStopReason: 'user'}),
]

export function report(live = true, list: ContainerStatus[] = containers): StatusReport {
  return {live, containers: list}
}
