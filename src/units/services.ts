/**
 * The service catalogue (rootfs-recipes/services/*.json) and the unit files each service puts in a
 * container: one socket unit listing every port the service is exposed on, and the per-connection
 * template service it activates (Accept=yes, see systemd.socket(5)).
 */
import {CtrError} from '../errors.js'
import {readRecipes} from '../recipes/load.js'
import type {Exposure} from '../store/containers.js'

/** A file a service recipe puts into a tree: its lines, with {{name}} for the container's name. */
export interface RecipeFile {
  path: string
  lines: string[]
  mode?: string
  /** Only for these distros (all when unset). */
  distros?: string[]
  /** Written only when the tree has no such file yet (a page the site may replace). */
  keep?: boolean
}

export interface ServiceRecipe {
  name: string
  description: string
  /** Packages per distro, installed into a shared layer when a container lacks them (rootfs/layers.ts). */
  packages: Record<string, string[]>
  /** Written into that layer before its packages are installed (so their set-up sees them). */
  layerFiles?: RecipeFile[]
  /** Written into each container the service is exposed on. */
  files?: RecipeFile[]
  /** The service's own data in each container (never a conflict with a package layer: each container's copy is its own). */
  data?: string[]
  /** Where `--docroot HOST_DIR` is bound read-only at each boot, for services that serve files. */
  docroot?: string
  /** Services with a database user `admin` (`--password-file`): how its password is set at start. */
  admin?: {
    /** The file the service reads at every start, with {{passwordHash}}; written mode 0640, group GROUP. */
    path: string
    group: string
    hash: 'mysql-native'
    lines: string[]
  }
  socket: {
    /**
     * Sockets inside the container that its systemd binds itself (a unix socket), for an Accept=no
     * service: written as a second socket unit (localSocketUnitName) for the same service. Not in
     * the first one: a socket unit that was passed some of its fds at boot counts as running and
     * never opens the rest ("some socket file descriptors have not been opened yet").
     */
    local?: string[]
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
  /** [Unit] settings of the service, written in this order. */
  unit?: Record<string, string>
  /** The distro's own always-on units for this service, masked so they never take a host port. */
  mask: string[]
}

/** The packages RECIPE needs on DISTRO; UNSUPPORTED when the recipe has none for that distro. */
export function servicePackages(recipe: ServiceRecipe, distro: string): string[] {
  const packages = recipe.packages[distro]
  if (!packages) {
    throw new CtrError('UNSUPPORTED', `service ${recipe.name} has no recipe for ${distro}`, {
      hints: [`it has one for ${Object.keys(recipe.packages).join(', ')}; add "${distro}" to packages in rootfs-recipes/services/${recipe.name}.json`],
    })
  }
  return packages
}

export function filesFor(files: readonly RecipeFile[] | undefined, distro: string): RecipeFile[] {
  return (files ?? []).filter((f) => !f.distros || f.distros.includes(distro))
}

/** A recipe file's text, with {{KEY}} replaced from VARS. */
export function fileText(file: RecipeFile, vars: Record<string, string> = {}): string {
  return `${file.lines.map((line) => line.replace(/\{\{(\w+)\}\}/g, (match, key: string) => vars[key] ?? match)).join('\n')}\n`
}

export function serviceCatalogue(): ServiceRecipe[] {
  return readRecipes<ServiceRecipe>('services')
}

export function findService(name: string): ServiceRecipe | undefined {
  return serviceCatalogue().find((s) => s.name === name)
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

export function localSocketUnitName(service: string): string {
  return `ctr-${service}-local.socket`
}

/** The unit of RECIPE's sockets inside the container (socket.local); undefined when it has none. */
export function localSocketUnitText(recipe: ServiceRecipe, options: UnitOptions = {}): string | undefined {
  if (!recipe.socket.local?.length || recipe.socket.accept) return undefined
  const lines = ['# Written by ctr.', '[Unit]', `Description=ctr: ${recipe.name}, inside the container`]
  if (options.lean) lines.push('DefaultDependencies=no', 'Before=sockets.target')
  lines.push('', '[Socket]', ...recipe.socket.local.map((path) => `ListenStream=${path}`), `Service=${serviceUnitName(recipe.name, false)}`)
  for (const [key, value] of Object.entries(recipe.socket.settings ?? {})) lines.push(`${key}=${value}`)
  lines.push('', '[Install]', 'WantedBy=sockets.target', '')
  return lines.join('\n')
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
  const lines = ['# Written by ctr.', '[Unit]', `Description=ctr: ${recipe.name}${recipe.socket.accept ? ' for %I' : ''}`]
  // Without default dependencies a service is not stopped in order at poweroff (only killed with
  // what remains at the end): MariaDB would never shut down cleanly. These two are the ones that matter.
  if (options.lean) lines.push('DefaultDependencies=no', 'Conflicts=shutdown.target', 'Before=shutdown.target')
  for (const [key, value] of Object.entries(recipe.unit ?? {})) lines.push(`${key}=${value}`)
  lines.push('', '[Service]')
  for (const [key, value] of Object.entries(recipe.service)) lines.push(`${key}=${value}`)
  lines.push('')
  return lines.join('\n')
}
