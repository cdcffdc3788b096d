/** Port specs as users write them: `PORT`, `ADDRESS:PORT`, `[IPV6]:PORT`. */
import {isIP} from 'node:net'
import {CtrError} from '../errors.js'
import {parseAddress} from '../sys/socket.js'

const FORMS = 'write PORT, IPV4:PORT or [IPV6]:PORT, e.g. 2222, 127.0.0.1:2222 or [::1]:2222'

export function parsePort(text: string): number {
  const port = Number(text)
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) {
    throw new CtrError('INVALID_ARGUMENT', `invalid port ${JSON.stringify(text)}`, {hints: ['a port is a number from 1 to 65535']})
  }
  return port
}

export function parsePortSpec(spec: string): {port: number; address?: string} {
  if (spec.trim() === '') throw invalid('an empty port', [FORMS])
  const bracketed = /^\[([^\]]*)\]:(.*)$/.exec(spec)
  const plain = /^([^:[\]]+):([^:]*)$/.exec(spec)
  if (!bracketed && !plain) {
    if (/^\[[^\]]*\]$/.test(spec)) throw invalid(`${JSON.stringify(spec)}: an address without a port`, [`add the port: ${spec}:2222`])
    if (spec.includes('%')) checkAddress(spec, spec, false)
    // Two colons or more, no brackets: an IPv6 address whose last group would be read as the port.
    if ((spec.match(/:/g) ?? []).length > 1) throw invalid(`${JSON.stringify(spec)}: an IPv6 address needs brackets`, [FORMS])
    return {port: parsePort(spec)}
  }
  const [address, port] = bracketed ? [bracketed[1], bracketed[2]] : [plain![1], plain![2]]
  checkAddress(address, spec, Boolean(bracketed))
  return {address, port: parsePort(port)}
}

/**
 * ADDRESS must be one the activator can bind and a socket unit can name: the same parser that
 * builds the sockaddr (sys/socket.ts) must read it, or it fails only at `ctr start` with a plain
 * Error. Node's isIP accepts a zone (`fe80::1%eth0`), which neither sockaddr nor ListenStream= take.
 */
function checkAddress(address: string, spec: string, bracketed: boolean): void {
  const where = `${JSON.stringify(address)} in ${JSON.stringify(spec)}`
  if (address.includes('%')) {
    throw invalid(`address ${where}: a zone (%IFACE) is not supported`, ['expose on a global or loopback address, or on every address (PORT alone)'])
  }
  const family = isIP(address)
  const parsed = parseAddress(address)
  if (family === 0 || !parsed) throw invalid(`address ${where}: not an IPv4 or IPv6 address`, [FORMS])
  if (family === 4 && bracketed) throw invalid(`address ${where}: brackets are for IPv6 only`, [`write ${address}:PORT`])
  // ::ffff:a.b.c.d: an IPv6 socket bound there takes IPv4 only, and no socket unit says it that way.
  if (family === 6 && parsed.bytes.subarray(0, 10).every((b) => b === 0) && parsed.bytes.readUInt16BE(10) === 0xffff) {
    throw invalid(`address ${where}: an IPv4-mapped IPv6 address`, [`write the IPv4 address itself: ${[...parsed.bytes.subarray(12)].join('.')}:PORT`])
  }
}

function invalid(what: string, hints: string[]): CtrError {
  return new CtrError('INVALID_ARGUMENT', `invalid port spec: ${what}`, {hints})
}
