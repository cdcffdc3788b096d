/** Opening a container's exposed ports as held sockets, with errors a user can act on. */
import {CtrError} from '../errors.js'
import {describeExposure, type Exposure} from '../store/containers.js'
import {EACCES, EADDRINUSE, EADDRNOTAVAIL, SyscallError, closeFd, listenTcp} from '../sys/socket.js'
import {socketKey} from './socket-holder.js'

export interface HeldSocket {
  exposure: Exposure
  fd: number
}

export function sameSocket(a: Exposure, b: Exposure): boolean {
  return a.port === b.port && (a.address ?? '::') === (b.address ?? '::')
}

/** Which socket an exposure is, as the socket holder keys it: ADDRESS|PORT. */
export function exposureKey(e: Exposure): string {
  return socketKey(e.port, e.address)
}

/**
 * Binds and listens on every exposure; all or nothing. A socket in TAKEN (taken back from the socket
 * holder or a previous activator, by key) is used as it is and removed from TAKEN: the same open
 * socket, with the connections already waiting in it.
 */
export function armSockets(name: string, exposures: readonly Exposure[], taken?: Map<string, number>): HeldSocket[] {
  const held: HeldSocket[] = []
  try {
    for (const exposure of exposures) {
      const key = exposureKey(exposure)
      const fd = taken?.get(key)
      taken?.delete(key)
      held.push({exposure, fd: fd ?? listenTcp(exposure.port, exposure.address ?? '::')})
    }
    return held
  } catch (error) {
    for (const h of held) closeFd(h.fd)
    throw bindError(name, exposures[held.length], error)
  }
}

export function releaseSockets(held: readonly HeldSocket[]): void {
  for (const h of held) closeFd(h.fd)
}

export function bindError(name: string, exposure: Exposure, error: unknown): CtrError {
  const where = describeExposure(exposure)
  const errno = error instanceof SyscallError ? error.errno : undefined
  if (errno === EADDRINUSE) {
    return new CtrError('PORT_BUSY', `port ${exposure.port} of ${name} is taken by another program`, {
      hints: [`see who listens: ss -ltnp 'sport = :${exposure.port}'`, `or move it: ctr unexpose ${exposure.port} -c ${name}`],
    })
  }
  if (errno === EADDRNOTAVAIL) {
    return new CtrError('INVALID_ARGUMENT', `${where} of ${name}: the address is not one of this host's`)
  }
  if (errno === EACCES) return new CtrError('NOT_ROOT', `binding ${where} of ${name} needs root`)
  return new CtrError('PORT_BUSY', `cannot hold ${where} of ${name}: ${error instanceof Error ? error.message : String(error)}`, {cause: error})
}
