/**
 * What a client sees: a TCP connect to 127.0.0.1:PORT and the first bytes of sshd's banner. A
 * connection counts as made when the banner ("SSH-") arrives; as lost when it is refused, reset,
 * closed before the banner, or gets no banner in time. A loop fires one such connection at a
 * fixed interval per port, whether or not the previous one has answered (a stall shows as a queue
 * of waiting connections, and as their latency).
 */
import {connect} from 'node:net'
import {setTimeout as sleep} from 'node:timers/promises'

export type Outcome = 'ok' | 'refused' | 'reset' | 'closed' | 'timeout' | 'other'

export interface ProbeResult {
  outcome: Outcome
  /** ms from connect() to the banner (or to the failure). */
  ms: number
  /** When it was fired (Date.now()). */
  at: number
  detail?: string
}

export function probe(port: number, timeoutMs = 30_000): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const at = Date.now()
    const started = performance.now()
    const socket = connect(port, '127.0.0.1')
    let done = false
    const finish = (outcome: Outcome, detail?: string) => {
      if (done) return
      done = true
      clearTimeout(timer)
      socket.destroy()
      resolve({outcome, ms: performance.now() - started, at, detail})
    }
    const timer = setTimeout(() => finish('timeout', `no banner within ${timeoutMs} ms`), timeoutMs)
    socket.once('data', (chunk) => {
      const text = chunk.toString('latin1')
      if (text.startsWith('SSH-')) finish('ok')
      else finish('other', `answered ${JSON.stringify(text.slice(0, 40))}`)
    })
    socket.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') finish('refused', error.message)
      else if (error.code === 'ECONNRESET' || error.code === 'EPIPE') finish('reset', error.message)
      else finish('other', error.message)
    })
    socket.once('close', () => finish('closed', 'closed before the banner'))
  })
}

export interface PortTally {
  port: number
  fired: number
  results: ProbeResult[]
}

export function lost(results: readonly ProbeResult[]): ProbeResult[] {
  return results.filter((r) => r.outcome !== 'ok')
}

/** "12 timeout, 3 closed": how many of RESULTS ended each way, most first. */
export function outcomeCounts(results: readonly ProbeResult[]): string {
  const counts = new Map<Outcome, number>()
  for (const r of results) counts.set(r.outcome, (counts.get(r.outcome) ?? 0) + 1)
  return [...counts].sort((a, b) => b[1] - a[1]).map(([outcome, n]) => `${n} ${outcome}`).join(', ')
}

export function describeLost(port: number, results: readonly ProbeResult[], events: readonly {at: number; what: string}[] = []): string[] {
  return lost(results).map((r) => {
    const before = [...events].reverse().find((e) => e.at <= r.at)
    return `:${port} ${r.outcome} at +${r.at - (events[0]?.at ?? r.at)} ms after ${before?.what ?? 'start'}: ${r.detail ?? ''}`
  })
}

/** Connects every INTERVAL_MS to each port until stopped; a port's client can be paused. */
export class ClientLoop {
  private readonly tallies = new Map<number, PortTally>()
  private readonly paused = new Set<number>()
  private readonly pending = new Set<Promise<void>>()
  private running = true
  private readonly loops: Promise<void>[]

  constructor(
    ports: readonly number[],
    private readonly intervalMs: number,
  ) {
    for (const port of ports) this.tallies.set(port, {port, fired: 0, results: []})
    this.loops = ports.map((port) => this.run(port))
  }

  private async run(port: number): Promise<void> {
    const tally = this.tallies.get(port)!
    let next = performance.now()
    while (this.running) {
      if (!this.paused.has(port)) {
        tally.fired++
        const p: Promise<void> = probe(port).then((r) => {
          tally.results.push(r)
          this.pending.delete(p)
        })
        this.pending.add(p)
      }
      next += this.intervalMs
      const wait = next - performance.now()
      if (wait > 0) await sleep(wait)
      else next = performance.now()
    }
  }

  pause(port: number): void {
    this.paused.add(port)
  }

  resume(port: number): void {
    this.paused.delete(port)
  }

  /** Waits for the connections fired so far to be answered (made or lost). */
  async drain(): Promise<void> {
    while (this.pending.size > 0) await Promise.all([...this.pending])
  }

  tally(port: number): PortTally {
    return this.tallies.get(port)!
  }

  /** Stops firing, waits for every connection fired to end; returns the tallies. */
  async stop(): Promise<PortTally[]> {
    this.running = false
    await Promise.all(this.loops)
    await this.drain()
    return [...this.tallies.values()]
  }
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

/** connect -> banner ms of the connections made, shortest first. */
export function bannerTimes(results: readonly ProbeResult[]): number[] {
  return results.filter((r) => r.outcome === 'ok').map((r) => r.ms).sort((a, b) => a - b)
}

export function latencyLine(results: readonly ProbeResult[]): string {
  const ms = bannerTimes(results)
  const f = (x: number) => `${x.toFixed(1)} ms`
  return `p50 ${f(percentile(ms, 50))}, p90 ${f(percentile(ms, 90))}, p99 ${f(percentile(ms, 99))}, max ${f(ms.at(-1) ?? NaN)}`
}
