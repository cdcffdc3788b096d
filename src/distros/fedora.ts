/**
 * Fedora: `dnf --installroot`, as the seed's footnote does with yum. The real dnf runs in the tests
 * as far as these machines allow: to the mirrors, which they cannot reach.
 */
import {CtrError} from '../errors.js'
import type {BootstrapRequest, Distro, DistroRecipe, ProgressTracker} from './types.js'

export function fedoraDistro(recipe: DistroRecipe): Distro {
  return {
    recipe,
    bootstrapArgv: (request) => dnfArgv(recipe, request),
    bootstrapFiles: (request) => ({'ctr-fedora.repo': dnfRepos(recipe, request)}),
    progressTracker: dnfProgress,
    classifyFailure: (output) =>
      /Cannot download|Curl error|Failed to download metadata|Cannot find a valid baseurl/i.test(output)
        ? new CtrError('MIRROR_UNREACHABLE', 'the Fedora mirrors could not be reached', {
            hints: ['check the network, or pick a mirror with --mirror URL', 'or import a base made elsewhere: ctr images import FILE|URL --distro fedora'],
          })
        : undefined,
  }
}

/**
 * dnf --installroot with only ctr's repositories (reposdir = request.configDir, holding dnfRepos),
 * so the host's own repositories, if any, play no part.
 */
export function dnfArgv(recipe: DistroRecipe, request: BootstrapRequest): string[] {
  const packages = [...new Set([...recipe.packages, ...request.extraPackages])]
  return [
    'dnf',
    '-y',
    `--installroot=${request.target}`,
    `--releasever=${request.release}`,
    '--setopt=install_weak_deps=False',
    `--setopt=reposdir=${request.configDir ?? '/dev/null'}`,
    '--disablerepo=*',
    '--enablerepo=ctr-fedora*',
    'install',
    ...packages,
  ]
}

/**
 * The repositories, signed packages only: the recipe's metalinks (release and updates), or with
 * --mirror one base URL (a metalink URL is taken as one). The key comes from Fedora over https
 * (dnf substitutes $releasever in it and imports it into the new tree's rpm database).
 */
export function dnfRepos(recipe: DistroRecipe, request: BootstrapRequest): string {
  const source = (url: string) => (/metalink/.test(url) ? `metalink=${url}` : `baseurl=${url}`)
  const repo = (id: string, name: string, url: string) =>
    [`[${id}]`, `name=${name}`, source(url), 'gpgcheck=1', `gpgkey=${recipe.gpgKey ?? ''}`, 'skip_if_unavailable=False', ''].join('\n')
  const repos = [repo('ctr-fedora', 'Fedora $releasever - $basearch', request.mirror)]
  if (request.mirror === recipe.mirror && recipe.updates) repos.push(repo('ctr-fedora-updates', 'Fedora $releasever - $basearch - Updates', recipe.updates))
  return `# Written by ctr for one bootstrap.\n${repos.join('\n')}`
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
