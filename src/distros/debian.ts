/** Debian (and, by recipe, its derivatives): debootstrap. See debootstrap(8). */
import {CtrError} from '../errors.js'
import type {BootstrapRequest, Distro, DistroRecipe, Progress, ProgressTracker} from './types.js'

export function debianDistro(recipe: DistroRecipe): Distro {
  return {
    recipe,
    bootstrapArgv: (request) => debootstrapArgv(recipe, request),
    progressTracker: () => debootstrapProgress(),
    classifyFailure: classifyDebootstrapFailure,
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
