/**
 * Flags several commands share, with parsers that refuse a bad value in one line that says what a
 * good one is (oclif's own integer flag says "Expected an integer greater than or equal to 0 but
 * received: -5" on three lines).
 */
import {Flags} from '@oclif/core'
import {CtrError} from '../errors.js'
import {MAX_CPUS} from '../store/containers.js'

/**
 * The longest idle timeout: 30 days. The activator compares the quiet time with it at each check
 * (no setTimeout, whose limit is 2^31-1 ms, about 24.8 days), and the record keeps a JSON number,
 * so the bound is not a limit of the machinery: past a month, 0 (never) is what one means, and a
 * value such as 99999999999999999999 is a typo (it is not even a safe integer).
 */
export const MAX_IDLE_TIMEOUT_SEC = 30 * 24 * 3600

/** A whole number in [min, max], or a CtrError naming FLAG and what it takes. */
export function parseWholeNumber(input: string, flag: string, what: {unit: string; min?: number; max?: number; note?: string}): number {
  const min = what.min ?? 0
  const note = what.note ? ` (${what.note})` : ''
  // Digits only: Number() would take '1e3', '0x10', ' 5' and ''.
  if (!/^-?\d+$/.test(input.trim())) throw invalid(`${flag} must be a whole number of ${what.unit}${note}, not '${input}'`)
  const value = Number(input.trim())
  if (!Number.isSafeInteger(value) || value < min || (what.max !== undefined && value > what.max)) {
    const range = what.max === undefined ? `${min} or more ${what.unit}` : `${min} to ${what.max} ${what.unit}`
    throw invalid(`${flag} must be ${range}${note}, not ${input.trim()}`)
  }
  return value
}

function invalid(message: string): CtrError {
  return new CtrError('INVALID_ARGUMENT', message)
}

export function parseIdleTimeout(input: string): number {
  return parseWholeNumber(input, '--idle-timeout', {unit: 'seconds', max: MAX_IDLE_TIMEOUT_SEC, note: '0 = never; at most 30 days'})
}

/** --idle-timeout of create and update: seconds, 0 = never, at most 30 days. */
export const idleTimeoutFlag = Flags.custom<number>({
  helpValue: 'SECONDS',
  parse: async (input) => parseIdleTimeout(input),
})

/** -n/--lines of logs. */
export const linesFlag = Flags.custom<number>({
  char: 'n',
  helpValue: 'N',
  parse: async (input) => parseWholeNumber(input, '--lines (-n)', {unit: 'lines'}),
})

/** The smallest memory limit: a lean container's systemd, journald and one sshd take about 25 MB. */
export const MIN_MEMORY_BYTES = 32 * 1024 * 1024

/** --memory: bytes, or a number with K, M, G (powers of 1024, as docker takes it); 0 or "none": no limit. */
export function parseMemory(input: string): number {
  const match = /^(\d+)([kmg]?)b?$/i.exec(input.trim())
  if (!match) throw invalid(`--memory must be a size such as 256M or 2G (or 0: no limit), not '${input}'`)
  const bytes = Number(match[1]) * 1024 ** ' kmg'.indexOf((match[2] || ' ').toLowerCase())
  if (bytes === 0) return 0
  if (!Number.isSafeInteger(bytes) || bytes < MIN_MEMORY_BYTES) throw invalid(`--memory must be at least 32M (a container's systemd and journald need about 25 MB), not ${input.trim()}`)
  return bytes
}

export function parsePids(input: string): number {
  return parseWholeNumber(input, '--pids', {unit: 'processes', note: '0 = no limit; else at least 32, a booting systemd needs a few dozen', min: 0, max: 4194304})
}

/** --cpus: how many CPUs' worth of time the container may use (0.5: half of one); 0: no limit. */
export function parseCpus(input: string): number {
  const text = input.trim()
  const cpus = /^\d+(\.\d+)?$/.test(text) ? Number(text) : NaN
  if (!Number.isFinite(cpus) || (cpus !== 0 && (cpus < 0.01 || cpus > MAX_CPUS))) throw invalid(`--cpus must be a number of CPUs such as 0.5 or 2 (0: no limit; at least 0.01, at most ${MAX_CPUS}), not '${input}'`)
  return cpus
}

/** --cpus of create and update. */
export const cpusFlag = Flags.custom<number>({helpValue: 'N', parse: async (input) => parseCpus(input)})

/** --memory of create and update. */
export const memoryFlag = Flags.custom<number>({helpValue: 'SIZE', parse: async (input) => parseMemory(input)})

/** --pids of create and update. */
export const pidsFlag = Flags.custom<number>({
  helpValue: 'N',
  parse: async (input) => {
    const n = parsePids(input)
    if (n > 0 && n < 32) throw invalid(`--pids must be 0 (no limit) or at least 32 (a booting systemd needs a few dozen), not ${n}`)
    return n
  },
})
