/**
 * The service catalogue (rootfs-recipes/services/*.json) and the unit files each service puts in a
 * container: one socket unit listing every port the service is exposed on, and the per-connection
 * template service it activates (Accept=yes, see systemd.socket(5)).
 */
import {CtrError} from '../errors.js'
import {readRecipes} from '../recipes/load.js'
import type {Exposure} from '../store/containers.js'

export interface ServiceRecipe {
  name: string
  description: string
  packages: string[]
  socket: {
    accept: boolean
    /**
     * [Socket] settings, written in this order. An Accept=yes service needs two: systemd's default
     * MaxConnections=64 closes the 65th connection at once (ssh: "Connection closed"), and its
     * trigger limit (200 connections in 2 s for Accept=yes) puts the socket unit into failed state,
     * after which the running container accepts nothing more until it reboots.
     */
    settings?: Record<string, string>
  }
  /** [Service] settings, written in this order. */
  service: Record<string, string>
  /** The distro's own always-on units for this service, masked so they never take a host port. */
  mask: string[]
}

export function serviceCatalogue(): ServiceRecipe[] {
  return readRecipes<ServiceRecipe>('services')
}

export function getService(name: string): ServiceRecipe {
  const services = serviceCatalogue()
  const service = services.find((s) => s.name === name)
  if (!service) {
    throw new CtrError('UNKNOWN_SERVICE', `unknown service ${JSON.stringify(name)}`, {
      hints: [`known services: ${services.map((s) => s.name).join(', ')}`],
    })
  }
  return service
}

export function socketUnitName(service: string): string {
  return `ctr-${service}.socket`
}

export function serviceUnitName(service: string, accept: boolean): string {
  return accept ? `ctr-${service}@.service` : `ctr-${service}.service`
}

/**
 * `ListenStream=` for an exposure. A bare port means `[::]:PORT` dual-stack, which is what the
 * activator binds; an address is written as given (IPv6 in brackets), as the activator binds it.
 * systemd matches a passed fd to a unit by family, type, address and port.
 */
export function listenValue(e: Exposure): string {
  if (!e.address) return String(e.port)
  return e.address.includes(':') ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`
}

export interface UnitOptions {
  /** Lean profile: skip the default dependencies so the socket is up as early as possible. */
  lean?: boolean
}

export function socketUnitText(recipe: ServiceRecipe, exposures: readonly Exposure[], options: UnitOptions = {}): string {
  const lines = ['# Written by ctr; `ctr expose` and `ctr unexpose` rewrite it.', '[Unit]', `Description=ctr: ${recipe.description}`]
  if (options.lean) lines.push('DefaultDependencies=no', 'Before=sockets.target')
  lines.push('', '[Socket]')
  for (const e of exposures) lines.push(`ListenStream=${listenValue(e)}`)
  if (recipe.socket.accept) lines.push('Accept=yes')
  for (const [key, value] of Object.entries(recipe.socket.settings ?? {})) lines.push(`${key}=${value}`)
  lines.push('', '[Install]', 'WantedBy=sockets.target', '')
  return lines.join('\n')
}

export function serviceUnitText(recipe: ServiceRecipe, options: UnitOptions = {}): string {
  const lines = ['# Written by ctr.', '[Unit]', `Description=ctr: ${recipe.name} for %I`]
  if (options.lean) lines.push('DefaultDependencies=no')
  lines.push('', '[Service]')
  for (const [key, value] of Object.entries(recipe.service)) lines.push(`${key}=${value}`)
  lines.push('')
  return lines.join('\n')
}
