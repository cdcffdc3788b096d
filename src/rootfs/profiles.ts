/**
 * Boot profiles: how much of a full boot a container gets. `lean` (the default) boots only sockets
 * and journald, which is all a socket-activated container needs; `full` is the distro's own boot.
 * Profiles are data in rootfs-recipes/profiles/NAME.json.
 */
import {CtrError} from '../errors.js'
import {readRecipes} from '../recipes/load.js'
import {removeInTree, symlinkInTree, writeInTree} from './tree-fs.js'

/** A unit the activator may stop in a quiet container, and the name (comm) of its process. */
export interface QuietUnit {
  unit: string
  process: string
}

export interface ProfileRecipe {
  name: string
  description: string
  /** Units masked (linked to /dev/null). */
  mask: string[]
  /** Generators masked in /etc/systemd/system-generators. */
  maskGenerators: string[]
  /** Other configuration files masked by a /dev/null link of the same path (e.g. in /etc/tmpfiles.d). */
  maskFiles?: string[]
  /** Configuration files written whole (drop-ins, mostly), as lines. */
  files?: Array<{path: string; lines: string[]}>
  /**
   * Socket-activated units the activator stops whenever a running container has had no connection
   * for a few seconds (DEFAULT_QUIET_MS in the activator) and their process (comm, a child of the
   * container's PID 1) runs: their sockets start them again when needed.
   */
  sleepWhenQuiet?: QuietUnit[]
  /** A target to boot instead of the distro's default, as [Unit] lines. */
  defaultTarget?: {name: string; unit: string[]}
}

export const DEFAULT_PROFILE = 'lean'

export function knownProfiles(): ProfileRecipe[] {
  return readRecipes<ProfileRecipe>('profiles')
}

export function getProfile(name: string): ProfileRecipe {
  const profiles = knownProfiles()
  const profile = profiles.find((p) => p.name === name)
  if (!profile) {
    throw new CtrError('INVALID_ARGUMENT', `unknown profile ${JSON.stringify(name)}`, {hints: [`known profiles: ${profiles.map((p) => p.name).join(', ')}`]})
  }
  return profile
}

export async function applyProfile(tree: string, name: string): Promise<void> {
  const profile = getProfile(name)
  for (const unit of profile.mask) await symlinkInTree(tree, `/etc/systemd/system/${unit}`, '/dev/null')
  for (const generator of profile.maskGenerators) await symlinkInTree(tree, `/etc/systemd/system-generators/${generator}`, '/dev/null')
  for (const file of profile.maskFiles ?? []) await symlinkInTree(tree, file, '/dev/null')
  for (const file of profile.files ?? []) await writeInTree(tree, file.path, `# Written by ctr (profile ${profile.name}).\n${file.lines.join('\n')}\n`)
  if (profile.defaultTarget) {
    const {name: target, unit} = profile.defaultTarget
    await writeInTree(tree, `/etc/systemd/system/${target}`, `# Written by ctr (profile ${profile.name}).\n[Unit]\n${unit.join('\n')}\n`)
    await symlinkInTree(tree, '/etc/systemd/system/default.target', `/etc/systemd/system/${target}`)
  }
}

/** Undoes what applyProfile wrote, so that another profile can be applied (ctr update --profile). */
export async function removeProfile(tree: string, name: string): Promise<void> {
  const profile = getProfile(name)
  for (const unit of profile.mask) await removeInTree(tree, `/etc/systemd/system/${unit}`)
  for (const generator of profile.maskGenerators) await removeInTree(tree, `/etc/systemd/system-generators/${generator}`)
  for (const file of profile.maskFiles ?? []) await removeInTree(tree, file)
  for (const file of profile.files ?? []) await removeInTree(tree, file.path)
  if (profile.defaultTarget) {
    await removeInTree(tree, '/etc/systemd/system/default.target')
    await removeInTree(tree, `/etc/systemd/system/${profile.defaultTarget.name}`)
  }
}
