/**
 * `npm run bench -- isolation` (issue 12): what isolating a container costs, side by side in one
 * run, interleaved, through ctr's activator: the cold wake (connect -> first byte of sshd's banner
 * with the container off) and the memory of the running container (its cgroup's charge, as `ctr ls`
 * shows it, a second after the wake) for
 * - host: an overlay container on the host's network and user IDs (the reference);
 * - private: the same with --network private (loopback only);
 * - veth: the same with --network veth (an address of its own, NAT out; made while it sleeps);
 * - private-users: the same with --private-users (an overlay on idmapped lowers, rootfs/idmap.ts);
 * - copy: a --copy container on the host's network and user IDs (the reference for the next one:
 *   a copy's boot reads another tree than an overlay's);
 * - copy-private-users: a --copy container with --private-users (nspawn idmaps it).
 * Target: each isolating mode's cold wake at most 1.1x its reference's.
 */
import {readFileSync, writeFileSync} from 'node:fs'
import {setTimeout as sleep} from 'node:timers/promises'
import {callActivator, ensureActivator} from '../../src/activator/client.js'
import {createContainer, type CreateOptions} from '../../src/containers/create.js'
import {terminate} from '../../src/sys/process.js'
import {freePortRange, timeToFirstByte} from './activator.js'
import {median} from './stats.js'

interface Mode {
  name: string
  /** The mode this one is compared with. */
  reference?: string
  options: Partial<CreateOptions>
}

const MODES: Mode[] = [
  {name: 'host', options: {network: 'host'}},
  {name: 'private', reference: 'host', options: {network: 'private'}},
  {name: 'veth', reference: 'host', options: {network: 'veth'}},
  {name: 'private-users', reference: 'host', options: {privateUsers: true, network: 'host'}},
  {name: 'copy', options: {copy: true, network: 'host'}},
  {name: 'copy-private-users', reference: 'copy', options: {copy: true, privateUsers: true, network: 'host'}},
]

const FORWARD = '/proc/sys/net/ipv4/ip_forward'

/** Both are held this long before the cold connection, as a sleeping container's port is. */
const HELD_MS = 300
/** After the wake, before its memory is read: the boot's last units have started. */
const SETTLE_MS = 1000

export interface IsolationBench {
  rounds: number
  modes: Record<string, {coldMs: number[]; coldMedian: number; memoryBytesMedian: number; ratioToReference?: number}>
  targets: Record<string, boolean>
}

export async function benchIsolation(root: string, log: (line: string) => void): Promise<IsolationBench> {
  const rounds = Number(process.env.CTR_BENCH_ISOLATION_ROUNDS ?? 10)
  const first = freePortRange(20100, 20999, MODES.length)
  log(`isolation: ${MODES.map((m) => m.name).join(', ')} on ports ${first}-${first + MODES.length - 1}, ${rounds} interleaved rounds of a cold wake`)
  for (const [i, mode] of MODES.entries()) {
    await createContainer(root, {distro: 'debian', name: `iso-${mode.name}`, idleTimeoutSec: 0, ports: [{port: first + i, service: 'ssh', address: '127.0.0.1'}], ...mode.options})
  }
  // A veth boot turns forwarding on (src/network/veth.ts): the bench puts it back as it was.
  const forwardBefore = readFileSync(FORWARD, 'utf8')
  const activatorPid = (await ensureActivator(root)).pid
  const cold = new Map<string, number[]>(MODES.map((m) => [m.name, []]))
  const memory = new Map<string, number[]>(MODES.map((m) => [m.name, []]))
  const once = async (mode: Mode, port: number) => {
    const name = `iso-${mode.name}`
    await callActivator(root, {op: 'start', name, now: false})
    try {
      await sleep(HELD_MS)
      const ms = await timeToFirstByte(port)
      await sleep(SETTLE_MS)
      const status = (await callActivator(root, {op: 'status'})).containers.find((c) => c.name === name)
      return {ms, memoryBytes: status?.memoryBytes}
    } finally {
      await callActivator(root, {op: 'stop', name, keepPorts: false})
    }
  }
  try {
    // One untimed boot each: none pays for a first boot (journal files, the page cache of its tree).
    for (const [i, mode] of MODES.entries()) await once(mode, first + i)
    for (let round = 0; round < rounds; round++) {
      // The order turns each round, so that no mode always follows the same one.
      const order = MODES.map((_, i) => (i + round) % MODES.length)
      const line: string[] = []
      for (const i of order) {
        const mode = MODES[i]
        const r = await once(mode, first + i)
        cold.get(mode.name)!.push(r.ms)
        if (r.memoryBytes !== undefined) memory.get(mode.name)!.push(r.memoryBytes)
        line.push(`${mode.name} ${r.ms.toFixed(0)} ms`)
      }
      log(`isolation: round ${round + 1}: ${line.join(', ')}`)
    }
  } finally {
    await terminate([activatorPid], 30_000)
    writeFileSync(FORWARD, forwardBefore)
  }
  const modes: IsolationBench['modes'] = {}
  const targets: Record<string, boolean> = {}
  for (const mode of MODES) {
    const coldMedian = median(cold.get(mode.name)!)
    const memoryBytesMedian = median(memory.get(mode.name)!)
    modes[mode.name] = {coldMs: cold.get(mode.name)!, coldMedian, memoryBytesMedian}
  }
  for (const mode of MODES) {
    const figures = modes[mode.name]
    const reference = mode.reference ? modes[mode.reference] : undefined
    const ratio = reference ? figures.coldMedian / reference.coldMedian : undefined
    if (ratio !== undefined) {
      figures.ratioToReference = ratio
      targets[`${mode.name}ColdAtMost110`] = ratio <= 1.1
    }
    log(
      `isolation: ${mode.name}: cold wake median ${figures.coldMedian.toFixed(0)} ms` +
        (ratio !== undefined ? ` (${ratio.toFixed(3)}x ${mode.reference}'s, target <= 1.1)` : ' (reference)') +
        `; running ${(figures.memoryBytesMedian / 1e6).toFixed(1)} MB`,
    )
  }
  return {rounds, modes, targets}
}
