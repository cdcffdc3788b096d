/**
 * Benchmark of the activator (issue 3), against systemd's own tool on the same tree in the same
 * run, interleaved: `systemd-socket-activate -l PORT systemd-nspawn ...` (the seed's scheme).
 *
 * - cold: connect -> first byte of sshd's banner with the container off; ctr's container is woken
 *   by its held socket, the baseline's by systemd-socket-activate, which waits for the first
 *   connection and then execs nspawn with the listening socket as fd 3.
 * - warm: the same with the container running (3 per round, 1 s after the cold connection).
 * - memory: the activator's whole RSS (VmRSS) holding 1, 100 and 1000 ports (no container boots).
 *
 * Both schemes boot the same container tree on the same port, one after the other, so the page
 * cache and the tree are the same for both.
 */
import {spawn} from 'node:child_process'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {connect} from 'node:net'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {callActivator, ensureActivator} from '../../src/activator/client.js'
import {createContainer} from '../../src/containers/create.js'
import {nspawnArgv} from '../../src/nspawn/argv.js'
import {containerPaths} from '../../src/store/paths.js'
import {writeContainer, type ContainerRecord} from '../../src/store/containers.js'
import {canBind} from '../../src/sys/socket.js'
import {median} from './stats.js'
import {terminate} from '../../src/sys/process.js'

export interface ActivatorBenchOptions {
  /** A state root (a Debian base is bootstrapped there if it has none). */
  root: string
  log: (line: string) => void
  runs?: number
  /** Held-port counts at which the activator's memory is read. */
  portCounts?: number[]
}

/** Warm connections timed per round (after the cold one, once the container settled). */
const WARM_PER_ROUND = 3

export interface ActivatorBench {
  runs: number
  coldMs: {ctr: number[]; baseline: number[]; ctrMedian: number; baselineMedian: number; ratio: number}
  warmMs: {ctr: number[]; baseline: number[]; ctrMedian: number; baselineMedian: number; ratio: number}
  activatorRssBytes: Record<string, number>
  targets: {coldRatioAtMost105: boolean; warmRatioAtMost105: boolean; rss1000Under64MB: boolean}
}

export interface FirstByteProbe {
  host?: string
  /** Written once connected (a request); a server that speaks first (sshd) needs none. */
  send?: string
  /** What the first chunk must start with: sshd's banner by default. */
  expect?: RegExp
  /** What is awaited, for the errors: "banner", "HTTP response". */
  what?: string
}

/** ms from connect() to the first byte the server sends (by default sshd's "SSH-2.0-" banner). */
export function timeToFirstByte(port: number, timeoutMs = 60_000, probe: FirstByteProbe = {}): Promise<number> {
  const {host = '127.0.0.1', send, expect = /^SSH-/, what = 'banner'} = probe
  return new Promise((resolve, reject) => {
    const started = performance.now()
    const socket = connect(port, host)
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no ${what} on port ${port} within ${timeoutMs} ms`))
    }, timeoutMs)
    if (send !== undefined) socket.once('connect', () => socket.write(send))
    socket.once('data', (chunk) => {
      const ms = performance.now() - started
      clearTimeout(timer)
      socket.destroy()
      const text = chunk.toString('latin1')
      if (!expect.test(text)) reject(new Error(`port ${port} answered ${JSON.stringify(text.split('\r\n')[0].slice(0, 60))}`))
      else resolve(ms)
    })
    socket.once('error', (error) => {
      clearTimeout(timer)
      reject(error)
    })
    socket.once('close', () => {
      clearTimeout(timer)
      reject(new Error(`port ${port} closed before the ${what}`))
    })
  })
}

/** A free port in [FROM, TO) with COUNT free ports after it. */
export function freePortRange(from: number, to: number, count = 1): number {
  for (let start = from; start + count <= to; start += count) {
    let ok = true
    for (let p = start; p < start + count && ok; p++) ok = canBind(p).ok
    if (ok) return start
  }
  throw new Error(`no ${count} free ports in ${from}-${to}`)
}


async function vmRss(pid: number): Promise<number> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8'))
  return m ? Number(m[1]) * 1024 : NaN
}

/**
 * Both schemes hold the port this long before the cold connection, as a sleeping container's port
 * is held long before anyone connects: neither is timed while it is still setting up its socket.
 */
const HELD_MS = 300

/** Time the container has to finish booting after the cold connection before warm ones are timed. */
const SETTLE_MS = 1000

async function warmSamples(port: number, count: number): Promise<number[]> {
  await sleep(SETTLE_MS)
  const warm: number[] = []
  for (let i = 0; i < count; i++) warm.push(await timeToFirstByte(port))
  return warm
}

/** One cold and WARM_RUNS warm measurements of the baseline, then its container powered off. */
async function baselineOnce(tree: string, port: number, warmRuns: number): Promise<{cold: number; warm: number[]}> {
  const argv = nspawnArgv({tree, machine: 'bench', hostHasSystemd: false})
  const child = spawn('systemd-socket-activate', ['-l', String(port), ...argv], {stdio: 'ignore'})
  try {
    // It listens before it waits; the connection below is what makes it exec nspawn.
    const deadline = Date.now() + 10_000
    while (canBind(port).ok) {
      if (Date.now() > deadline) throw new Error('systemd-socket-activate did not listen')
      await sleep(5)
    }
    await sleep(HELD_MS)
    const cold = await timeToFirstByte(port)
    return {cold, warm: await warmSamples(port, warmRuns)}
  } finally {
    // By now the process is nspawn (exec'd in place): SIGTERM is an orderly poweroff.
    await terminate([child.pid!], 30_000)
  }
}

async function ctrOnce(root: string, name: string, port: number, warmRuns: number): Promise<{cold: number; warm: number[]}> {
  await callActivator(root, {op: 'start', name, now: false})
  try {
    await sleep(HELD_MS)
    const cold = await timeToFirstByte(port)
    return {cold, warm: await warmSamples(port, warmRuns)}
  } finally {
    await callActivator(root, {op: 'stop', name, keepPorts: false})
  }
}

async function memoryFigures(root: string, counts: number[], log: (line: string) => void): Promise<Record<string, number>> {
  const memRoot = await mkdtemp(join(root, 'mem-'))
  const max = Math.max(...counts)
  const first = freePortRange(21000, 29999, max)
  const figures: Record<string, number> = {}
  let pid: number | undefined
  try {
    const base: Omit<ContainerRecord, 'name' | 'ports'> = {
      distro: 'debian',
      release: 'bookworm',
      image: 'none',
      storage: 'copy',
      profile: 'lean',
      createdAt: new Date().toISOString(),
      idleTimeoutSec: 0,
    }
    for (let i = 0; i < max; i++) await writeContainer(memRoot, {...base, name: `m${i}`, ports: [{port: first + i, service: 'ssh'}]})
    pid = (await ensureActivator(memRoot)).pid
    figures['0'] = await vmRss(pid)
    let held = 0
    for (const count of [...counts].sort((a, b) => a - b)) {
      for (; held < count; held++) await callActivator(memRoot, {op: 'start', name: `m${held}`, now: false})
      // Let V8 settle after the burst of requests before reading.
      await sleep(1500)
      figures[String(count)] = await vmRss(pid)
      log(`activator: ${count} held ports: ${(figures[String(count)] / 1e6).toFixed(1)} MB RSS`)
    }
  } finally {
    if (pid !== undefined) {
      await terminate([pid], 30_000)
    }
    await rm(memRoot, {recursive: true, force: true})
  }
  return figures
}

export async function benchActivator(options: ActivatorBenchOptions): Promise<ActivatorBench> {
  const {root, log} = options
  const runs = options.runs ?? Number(process.env.CTR_BENCH_RUNS ?? 15)
  const port = freePortRange(20000, 20999)
  const name = 'bench-activator'
  log(`activator: container ${name} on port ${port}, ${runs} interleaved rounds of cold + warm, ctr vs systemd-socket-activate`)
  await createContainer(root, {distro: 'debian', name, ports: [{port, service: 'ssh'}]})
  const tree = containerPaths(root, name).rootfs
  const activatorPid = (await ensureActivator(root)).pid
  const cold = {ctr: [] as number[], baseline: [] as number[]}
  const warm = {ctr: [] as number[], baseline: [] as number[]}
  try {
    // One untimed round each, so that neither pays for a first boot (journal files, page cache).
    await ctrOnce(root, name, port, 1)
    await baselineOnce(tree, port, 1)
    for (let i = 0; i < runs; i++) {
      const order = i % 2 === 0 ? (['ctr', 'baseline'] as const) : (['baseline', 'ctr'] as const)
      for (const who of order) {
        const r = who === 'ctr' ? await ctrOnce(root, name, port, WARM_PER_ROUND) : await baselineOnce(tree, port, WARM_PER_ROUND)
        cold[who].push(r.cold)
        warm[who].push(...r.warm)
      }
      const lastWarm = (xs: number[]) => median(xs.slice(-WARM_PER_ROUND)).toFixed(1)
      log(`activator: round ${i + 1}: cold ctr ${cold.ctr[i].toFixed(0)} ms, baseline ${cold.baseline[i].toFixed(0)} ms; warm ctr ${lastWarm(warm.ctr)} ms, baseline ${lastWarm(warm.baseline)} ms`)
    }
  } finally {
    await terminate([activatorPid], 30_000)
  }
  const summary = (s: {ctr: number[]; baseline: number[]}) => {
    const ctrMedian = median(s.ctr)
    const baselineMedian = median(s.baseline)
    return {...s, ctrMedian, baselineMedian, ratio: ctrMedian / baselineMedian}
  }
  const coldMs = summary(cold)
  const warmMs = summary(warm)
  log(`activator: cold median ${coldMs.ctrMedian.toFixed(0)} ms vs ${coldMs.baselineMedian.toFixed(0)} ms baseline: ratio ${coldMs.ratio.toFixed(3)} (target <= 1.05)`)
  log(`activator: warm median ${warmMs.ctrMedian.toFixed(1)} ms vs ${warmMs.baselineMedian.toFixed(1)} ms baseline: ratio ${warmMs.ratio.toFixed(3)} (target <= 1.05)`)
  const activatorRssBytes = await memoryFigures(root, options.portCounts ?? [1, 100, 1000], log)
  const rss1000 = activatorRssBytes['1000']
  return {
    runs,
    coldMs,
    warmMs,
    activatorRssBytes,
    targets: {coldRatioAtMost105: coldMs.ratio <= 1.05, warmRatioAtMost105: warmMs.ratio <= 1.05, rss1000Under64MB: rss1000 === undefined ? false : rss1000 <= 64 * 1024 * 1024},
  }
}
