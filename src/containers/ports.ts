/** Port specs as users write them: `PORT`, `ADDRESS:PORT`, `[IPV6]:PORT`. */
import {isIP} from 'node:net'
import {CtrError} from '../errors.js'

export function parsePort(text: string): number {
  const port = Number(text)
  if (!/^\d+$/.test(text) || port < 1 || port > 65535) {
    throw new CtrError('INVALID_ARGUMENT', `invalid port ${JSON.stringify(text)}`, {hints: ['a port is a number from 1 to 65535']})
  }
  return port
}

export function parsePortSpec(spec: string): {port: number; address?: string} {
  const bracketed = /^\[([^\]]+)\]:(\d+)$/.exec(spec)
  const plain = /^([^:]+):(\d+)$/.exec(spec)
  const [address, port] = bracketed ? [bracketed[1], bracketed[2]] : plain ? [plain[1], plain[2]] : [undefined, spec]
  if (address !== undefined && isIP(address) === 0) {
    throw new CtrError('INVALID_ARGUMENT', `invalid address ${JSON.stringify(address)} in ${JSON.stringify(spec)}`, {
      hints: ['write PORT, IPV4:PORT or [IPV6]:PORT, e.g. 127.0.0.1:2222 or [::1]:2222'],
    })
  }
  return address === undefined ? {port: parsePort(port)} : {address, port: parsePort(port)}
}
