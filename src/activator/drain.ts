/**
 * Waiting for a running container's sessions to end before a poweroff that keeps its ports (the
 * idle rule, `ctr stop --hold`). Its socket units are stopped by then (inside.ts), so what comes in
 * meanwhile waits in the host's socket for the next boot; what this waits for are the connections
 * the container had accepted already. A connection still in the accept queue is none
 * (establishedByPort counts accepted ones).
 */
import {establishedByPort, readTcpRows, type TcpRow} from './proc.js'

/** Accepted connections on PORTS now. */
export function openConnections(ports: Iterable<number>, rows: readonly TcpRow[] = readTcpRows()): number {
  return [...establishedByPort(rows, ports).values()].reduce((a, b) => a + b, 0)
}

export interface Drained {
  /** ended: none is open; limit: LIMIT_MS passed first; gave-up: the container stopped running, or GIVE_UP said so. */
  how: 'ended' | 'limit' | 'gave-up'
  /** Connections open when it stopped waiting. */
  open: number
}

/**
 * Waits until none of C's ports has an accepted connection: at most LIMIT_MS, looked at every
 * POLL_MS, and no longer once C stops running or GIVE_UP says so. WAITING is told the count the
 * first time there is one to wait for.
 */
export async function drainConnections(
  c: {state: string; record: {ports: ReadonlyArray<{port: number}>}},
  options: {limitMs: number; pollMs: number; giveUp?: () => boolean; waiting?: (open: number) => void},
): Promise<Drained> {
  const ports = c.record.ports.map((e) => e.port)
  const deadline = Date.now() + options.limitMs
  let told = false
  for (;;) {
    const open = openConnections(ports)
    if (open === 0) return {how: 'ended', open}
    if (c.state !== 'running' || options.giveUp?.()) return {how: 'gave-up', open}
    if (Date.now() >= deadline) return {how: 'limit', open}
    if (!told) options.waiting?.(open)
    told = true
    await new Promise((r) => setTimeout(r, options.pollMs))
  }
}
