/**
 * One module per distro behind this interface (as mkosi does): the recipe is data from
 * rootfs-recipes/distros, the module turns it into the argv of the distro's bootstrap tool and
 * reads that tool's output for progress and failures.
 */
import type {CtrError} from '../errors.js'

export interface DistroRecipe {
  name: string
  description: string
  /** The program that bootstraps a tree (checked before anything is made). */
  tool: string
  defaultRelease: string
  releases: string[]
  mirror: string
  variant?: string
  packages: string[]
  /** Fedora: the updates repository (a metalink), used with the default mirror. */
  updates?: string
  /** Fedora: where the release's signing key is fetched (over https) to check every package. */
  gpgKey?: string
}

export interface BootstrapRequest {
  release: string
  mirror: string
  target: string
  /** Packages on top of the recipe's. */
  extraPackages: readonly string[]
  /** A scratch directory outside the target for the tool's own configuration (bootstrapFiles). */
  configDir?: string
}

export interface Progress {
  /** 0..1 */
  fraction: number
  /** What the tool is doing now, e.g. "Retrieving systemd". */
  label: string
}

export interface ProgressTracker {
  /** Feeds one line of the tool's output; returns the new progress when the line moved it. */
  feed(line: string): Progress | undefined
}

export interface Distro {
  recipe: DistroRecipe
  bootstrapArgv(request: BootstrapRequest): string[]
  /** Files the tool needs in request.configDir (name -> text) before it runs, if any. */
  bootstrapFiles?(request: BootstrapRequest): Record<string, string>
  progressTracker(): ProgressTracker
  /** A precise error for a failed bootstrap (unreachable mirror, full disk), if the output tells. */
  classifyFailure(output: string): CtrError | undefined
  /** Installs packages into a tree from inside it (run in nspawn, not booted); absent: not supported. */
  install?: PackageInstall
}

export interface PackageInstall {
  /** The command, run inside the tree, that installs PACKAGES; REFRESH: update the package lists first. */
  argv(packages: readonly string[], refresh: boolean): string[]
  /** Environment for it. */
  env: Record<string, string>
  progressTracker(): ProgressTracker
  /** A precise error for a failed install (no such package, unreachable mirror, full disk). */
  classifyFailure(output: string): CtrError | undefined
  /** The failure may be stale package lists: worth one more try with refresh. */
  staleLists(output: string): boolean
  /** The packages installed in TREE, read from its package database (installedPackages). */
  databasePath: string
  parseDatabase(text: string): Set<string>
}
