/** Container names: what systemd-nspawn, hostnames and file names all accept. */
import {CtrError} from './errors.js'

export const NAME_PATTERN = /^[a-z0-9][a-z0-9-]{0,62}$/

export function validateName(name: string): string {
  if (!NAME_PATTERN.test(name)) {
    throw new CtrError('INVALID_NAME', `invalid container name ${JSON.stringify(name)}`, {
      hints: ['use 1 to 63 characters: lower-case letters, digits and "-", starting with a letter or digit'],
    })
  }
  return name
}

/** A free name like docker's: distro plus the first free number (debian-1, debian-2, ...). */
export function pickName(prefix: string, taken: ReadonlySet<string>): string {
  for (let n = 1; ; n++) {
    const candidate = `${prefix}-${n}`
    if (!taken.has(candidate)) return candidate
  }
}
