/** Debian (and, by recipe, its derivatives): debootstrap. See debootstrap(8). */
import {CtrError} from '../errors.js'
import type {BootstrapRequest, Distro, DistroRecipe, PackageInstall, Progress, ProgressTracker} from './types.js'

export function debianDistro(recipe: DistroRecipe): Distro {
  return {
    recipe,
    bootstrapArgv: (request) => debootstrapArgv(recipe, request),
    progressTracker: () => debootstrapProgress(),
    classifyFailure: classifyDebootstrapFailure,
    install: aptInstall,
  }
}

/**
 * apt-get inside the tree. The lists debootstrap left are tried first: an `apt-get update` would
 * put 40 MB of new lists into every package layer. Only a fetch that fails (a point release
 * removed the old .deb) or a package not in them makes it refresh and try once more.
 */
export const aptInstall: PackageInstall = {
  argv: (packages, refresh) => [
    '/bin/sh',
    '-c',
    `${refresh ? 'apt-get update -q && ' : ''}apt-get install -y -q --no-install-recommends -o Dpkg::Options::=--force-confold "$@" && apt-get clean`,
    'sh',
    ...packages,
  ],
  env: {DEBIAN_FRONTEND: 'noninteractive', LC_ALL: 'C'},
  progressTracker: aptProgress,
  classifyFailure: (output) => {
    if (/No space left on device/i.test(output)) {
      return new CtrError('NO_SPACE', 'the disk filled up while installing packages', {hints: ['free some space (ctr images rm, ctr rm) and try again']})
    }
    // First: a package missing from lists that could not be fetched is no verdict on the package.
    if (/Temporary failure resolving|Could not resolve|Connection refused|Network is unreachable|Failed to fetch|Could not connect/i.test(output)) {
      const url = /Failed to fetch (\S+)/.exec(output)?.[1]
      return new CtrError('MIRROR_UNREACHABLE', `the package mirror could not be reached${url ? ` (${url})` : ''}`, {hints: ['check the network (the mirror is in the tree\'s /etc/apt/sources.list), then try again']})
    }
    const missing = /Unable to locate package (\S+)|Package '?([^' ]+)'? has no installation candidate/.exec(output)
    if (missing) {
      return new CtrError('NO_SUCH_PACKAGE', `the mirror has no package ${missing[1] ?? missing[2]}`, {hints: ['check the name in the recipe (rootfs-recipes/services) or in --packages']})
    }
    return undefined
  },
  staleLists: (output) => /Unable to locate package|has no installation candidate|404\s+Not Found|Failed to fetch/i.test(output),
  databasePath: '/var/lib/dpkg/status',
  parseDatabase: parseDpkgStatus,
}

/** Names of the packages dpkg's status file says are installed. */
export function parseDpkgStatus(text: string): Set<string> {
  const installed = new Set<string>()
  for (const stanza of text.split(/\n\n+/)) {
    const name = /^Package: (\S+)$/m.exec(stanza)?.[1]
    if (name && /^Status: install ok installed$/m.test(stanza)) installed.add(name)
  }
  return installed
}

/** apt-get prints `N newly installed`, then `Get:` per download, `Unpacking P` and `Setting up P` per package. */
export function aptProgress(): ProgressTracker {
  let total = 0
  const seen = {Get: 0, Unpacking: 0, 'Setting up': 0}
  return {
    feed(line: string): Progress | undefined {
      const count = /^\d+ upgraded, (\d+) newly installed/.exec(line)
      if (count) {
        total = Number(count[1])
        return {fraction: 0.02, label: `${total} packages to install`}
      }
      const step = /^(Get):\d+ \S+ \S+ \S+ (\S+)|^(Unpacking|Setting up) ([^ :]+)/.exec(line)
      if (!step || total === 0) return undefined
      const verb = (step[1] ?? step[3]) as keyof typeof seen
      seen[verb] += 1
      const part = (n: number) => Math.min(n / total, 1)
      const fraction = 0.02 + 0.38 * part(seen.Get) + 0.3 * part(seen.Unpacking) + 0.29 * part(seen['Setting up'])
      return {fraction: Math.min(fraction, 0.99), label: `${verb === 'Get' ? 'Retrieving' : verb} ${step[2] ?? step[4]}`}
    },
  }
}

export function debootstrapArgv(recipe: DistroRecipe, request: BootstrapRequest): string[] {
  const packages = [...new Set([...recipe.packages, ...request.extraPackages])]
  const argv = ['debootstrap']
  if (recipe.variant) argv.push(`--variant=${recipe.variant}`)
  if (packages.length > 0) argv.push(`--include=${packages.join(',')}`)
  argv.push(request.release, request.target, request.mirror)
  return argv
}

/**
 * debootstrap prints one `I: Retrieving P`, `I: Validating P` per package, then `I: Extracting P`
 * for the required set, `I: Unpacking P` and `I: Configuring P` for all. The package count is
 * known once downloading ends; before that the previous run's count (about 130 for minbase plus
 * systemd and sshd) is the estimate. Phase weights follow where the time goes on this machine.
 */
const PHASES = [
  {verb: 'Retrieving', weight: 0.3},
  {verb: 'Validating', weight: 0.05},
  {verb: 'Extracting', weight: 0.15},
  {verb: 'Unpacking', weight: 0.25},
  {verb: 'Configuring', weight: 0.25},
] as const

export function debootstrapProgress(estimate = 130): ProgressTracker {
  const counts = new Map<string, number>()
  let packages = 0
  let last = 0
  return {
    feed(line: string): Progress | undefined {
      const match = /^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) (\S+)/.exec(line)
      if (!match || ['InRelease', 'Packages', 'Release', 'required', 'base', 'the'].includes(match[2])) {
        return line.startsWith('I: Base system installed') ? {fraction: 1, label: 'done'} : undefined
      }
      const [, verb, pkg] = match
      counts.set(verb, (counts.get(verb) ?? 0) + 1)
      if (verb === 'Retrieving') packages = counts.get(verb)!
      const total = counts.has('Extracting') || counts.has('Unpacking') ? Math.max(packages, 1) : Math.max(estimate, packages)
      let fraction = 0
      for (const phase of PHASES) {
        const seen = counts.get(phase.verb) ?? 0
        // The Extracting set is a subset of all packages; it is over when Unpacking starts.
        const done = phase.verb === 'Extracting' && counts.has('Unpacking') ? 1 : Math.min(seen / total, 1)
        fraction += phase.weight * done
      }
      last = Math.max(last, Math.min(fraction, 0.99))
      return {fraction: last, label: `${verb} ${pkg}`}
    },
  }
}

export function classifyDebootstrapFailure(output: string): CtrError | undefined {
  if (/No space left on device/i.test(output)) {
    return new CtrError('NO_SPACE', 'the disk filled up while bootstrapping', {hints: ['free some space (ctr images rm, ctr rm) and try again']})
  }
  const release = /Failed getting release file (\S+)/.exec(output) ?? /Couldn't download (\S+)/.exec(output) ?? /Failed getting (?:release|Release) file (\S+)/.exec(output)
  if (release || /Temporary failure resolving|Could not resolve|Connection refused|Network is unreachable/i.test(output)) {
    return new CtrError('MIRROR_UNREACHABLE', `the mirror could not be reached${release ? ` (${release[1]})` : ''}`, {
      hints: ['check the network, or pick another mirror with --mirror URL'],
    })
  }
  return undefined
}
