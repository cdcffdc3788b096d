/**
 * The scale-to-zero sections of `npm run bench` (issue 5), one module each:
 *
 * - idle: a container with a short idle timeout, woken by a real ssh; the time from the session's
 *   end to the container gone (nspawn exited, the port held again), against the timeout.
 * - lean: the lean profile against `full`, side by side and interleaved: cold connect -> first
 *   banner byte, and the memory of the running idle container (all its processes).
 * - density: many containers from one base, each on its own port, all held at once: the
 *   activator's memory, the disk each container takes, the cold boot of random ones among them.
 *
 * Every section starts its own activator for the bench root and stops it (by pid) at the end, so a
 * section measures an activator that only did its work. Ports 30000-39999 (tests use 20000-29999).
 * Sizes: CTR_BENCH_IDLE_ROUNDS, CTR_BENCH_IDLE_TIMEOUT, CTR_BENCH_RUNS (lean), CTR_BENCH_DENSITY,
 * CTR_BENCH_DENSITY_SAMPLES.
 */
export {benchIdle, type IdleBench} from './idle.js'
export {benchLean, type LeanBench} from './lean.js'
export {benchDensity, type DensityBench} from './density.js'
