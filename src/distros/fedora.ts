/**
 * Fedora: `dnf --installroot`, as the seed's footnote does with yum. The argv is built and tested;
 * a real bootstrap needs Fedora's mirrors, which these machines cannot reach.
 */
import {CtrError} from '../errors.js'
import type {BootstrapRequest, Distro, DistroRecipe, ProgressTracker} from './types.js'

export function fedoraDistro(recipe: DistroRecipe): Distro {
  return {
    recipe,
    bootstrapArgv: (request) => dnfArgv(recipe, request),
    progressTracker: dnfProgress,
    classifyFailure: (output) =>
      /Cannot download|Curl error|Failed to download metadata|Cannot find a valid baseurl/i.test(output)
        ? new CtrError('MIRROR_UNREACHABLE', 'the Fedora mirrors could not be reached', {hints: ['check the network, or pick a mirror with --mirror URL']})
        : undefined,
  }
}

export function dnfArgv(recipe: DistroRecipe, request: BootstrapRequest): string[] {
  const packages = [...new Set([...recipe.packages, ...request.extraPackages])]
  return [
    'dnf',
    '-y',
    `--installroot=${request.target}`,
    `--releasever=${request.release}`,
    '--setopt=install_weak_deps=False',
    '--setopt=reposdir=/dev/null',
    `--repofrompath=ctr-fedora,${request.mirror}`,
    '--repo=ctr-fedora',
    '--nogpgcheck',
    'install',
    ...packages,
  ]
}

/** dnf prints `Installing : NAME  N/M` lines; N/M is the progress. */
function dnfProgress(): ProgressTracker {
  return {
    feed(line) {
      const match = /^\s*(Installing|Running scriptlet|Verifying)\s*:\s*(\S+)\s+(\d+)\/(\d+)/.exec(line)
      if (!match) return undefined
      const [, verb, pkg, n, m] = match
      const base = verb === 'Verifying' ? 0.8 : 0.2
      return {fraction: Math.min(base + (0.6 * Number(n)) / Number(m), 0.99), label: `${verb} ${pkg}`}
    },
  }
}
