/**
 * Names that reach a path or an argv: container names, releases, image ids, package names,
 * mirrors. Each is checked against a strict pattern before anything is made, so that no name can
 * climb out of the state root (`x/../../victim`) or be read as an option by the tool it is passed
 * to (`--foo`). src/store/paths.ts checks every path again, as a second line.
 */
import {CtrError} from './errors.js'

/** A hostname label (RFC 1123): what systemd-nspawn, hostnames and file names all accept. */
export const NAME_PATTERN = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/
/** Debian suites and codenames (bookworm, sid), Fedora versions (40). */
export const RELEASE_PATTERN = /^[a-z0-9][a-z0-9.+_-]{0,31}$/
/** What imageId() makes: distro-release[-hash]. */
export const IMAGE_ID_PATTERN = /^[a-z0-9][a-z0-9.+_-]{0,95}$/
/** Debian policy 5.6.1 (lower case) and rpm's names (upper case, "_"), nothing an option could start with. */
export const PACKAGE_PATTERN = /^[A-Za-z0-9][A-Za-z0-9.+_-]{0,127}$/

export function validateName(name: string): string {
  if (!NAME_PATTERN.test(name)) {
    throw new CtrError('INVALID_NAME', `invalid container name ${JSON.stringify(name)}`, {
      hints: ['use 1 to 63 characters: lower-case letters, digits and "-", starting and ending with a letter or digit'],
    })
  }
  return name
}

/** A release for DISTRO: a plain name always; for a bootstrap, one the recipe knows. */
export function validateRelease(distro: {name: string; releases: readonly string[]}, release: string, options: {known?: boolean} = {}): string {
  const known = `known releases of ${distro.name}: ${distro.releases.join(', ')}`
  if (!RELEASE_PATTERN.test(release) || release.includes('..')) {
    throw new CtrError('INVALID_ARGUMENT', `invalid release ${JSON.stringify(release)}`, {hints: [known]})
  }
  if (options.known && !distro.releases.includes(release)) {
    throw new CtrError('INVALID_ARGUMENT', `${distro.name} has no release ${JSON.stringify(release)} that ctr can bootstrap`, {
      hints: [known, `or import a base of it: ctr images import FILE --distro ${distro.name} --release ${release}`],
    })
  }
  return release
}

export function validateImageId(id: string): string {
  if (!IMAGE_ID_PATTERN.test(id) || id.includes('..')) {
    throw new CtrError('INVALID_ARGUMENT', `invalid image id ${JSON.stringify(id)}`, {hints: ['ctr images lists the cached ones, e.g. debian-bookworm']})
  }
  return id
}

export function validatePackages(packages: readonly string[]): string[] {
  for (const p of packages) {
    if (!PACKAGE_PATTERN.test(p)) {
      throw new CtrError('INVALID_ARGUMENT', `invalid package name ${JSON.stringify(p)}`, {
        hints: ['give package names separated by commas, e.g. --packages git,curl'],
      })
    }
  }
  return [...packages]
}

/** A mirror URL for a bootstrap tool: http(s) or file, never something it could take for an option. */
export function validateMirror(mirror: string): string {
  let url: URL | undefined
  try {
    url = new URL(mirror)
  } catch {}
  if (!url || !['http:', 'https:', 'file:'].includes(url.protocol) || /\s/.test(mirror)) {
    throw new CtrError('INVALID_ARGUMENT', `invalid mirror ${JSON.stringify(mirror)}`, {hints: ['give an http(s):// or file:// URL, e.g. --mirror http://deb.debian.org/debian']})
  }
  return mirror
}

/** A free name like docker's: distro plus the first free number (debian-1, debian-2, ...). */
export function pickName(prefix: string, taken: ReadonlySet<string>): string {
  for (let n = 1; ; n++) {
    const candidate = `${prefix}-${n}`
    if (!taken.has(candidate)) return candidate
  }
}
