/**
 * Free TCP ports for tests, as canBind (src/sys/socket.ts) sees them: bindable on :: (dual-stack)
 * right now. Each test file keeps its own range, so that files and parallel runs do not collide.
 */
import {canBind} from '../../src/sys/socket.js'

/** COUNT free ports in a row: the first run of COUNT at START or above it, tried in steps of COUNT. */
function freeRunFrom(start: number, count: number): number[] {
  for (let port = start; ; port += count) {
    const ports = Array.from({length: count}, (_, i) => port + i)
    if (ports.every((p) => canBind(p).ok)) return ports
  }
}

/**
 * COUNT free ports in a row, searched upward from BASE plus an offset under 900 picked by the pid
 * (pid * SPREAD % 900): test files that pass another SPREAD, or run in another process, start elsewhere.
 */
export function freePorts(count: number, base: number, spread = 1): number[] {
  return freeRunFrom(base + ((process.pid * spread) % 900), count)
}

/** One free port, searched upward from BASE plus an offset under 900 picked by the pid (see freePorts). */
export function freePort(base: number, spread = 1): number {
  return freePorts(1, base, spread)[0]
}

/** One free port, searched upward from a random one in [FROM, FROM + SPAN). */
export function randomFreePort(from = 20000, span = 9000): number {
  return freeRunFrom(from + Math.floor(Math.random() * span), 1)[0]
}
