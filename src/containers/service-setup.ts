/**
 * What a service needs in a container besides its units: its packages (a shared package layer
 * stacked under the container when they are missing, rootfs/layers.ts), the host directory it
 * serves (--docroot), and the password of its admin user (--password-file, or one made here).
 */
import {createHash, randomBytes} from 'node:crypto'
import {readFile, stat} from 'node:fs/promises'
import {isAbsolute, resolve} from 'node:path'
import {CtrError, errnoCode} from '../errors.js'
import {readImage, type ImageRecord} from '../rootfs/images.js'
import {CONTAINER_OWN_PATHS, ensurePackageLayer, hiddenByUpper, installedPackages, type LayerHooks} from '../rootfs/layers.js'
import {readInTree, writeInTree} from '../rootfs/tree-fs.js'
import type {ContainerRecord} from '../store/containers.js'
import {containerPaths, imagePaths} from '../store/paths.js'
import {fileText, serviceCatalogue, servicePackages, type ServiceRecipe} from '../units/services.js'

/** --docroot: an existing host directory, as an absolute path; and a warning when the service could not read it. */
export async function checkDocroot(recipe: ServiceRecipe, dir: string): Promise<{path: string; warning?: string}> {
  if (!recipe.docroot) {
    const serving = serviceCatalogue().filter((s) => s.docroot).map((s) => s.name)
    throw new CtrError('INVALID_ARGUMENT', `--docroot is for services that serve files (${serving.join(', ')}), not ${recipe.name}`)
  }
  const path = resolve(dir)
  const info = await stat(path).catch((error: unknown) => {
    throw new CtrError('INVALID_ARGUMENT', `--docroot ${dir}: ${errnoCode(error) === 'ENOENT' ? 'no such directory' : `cannot read it (${errnoCode(error) ?? String(error)})`}`, {
      hints: ['give a directory of this host; the container serves it read-only'],
    })
  })
  if (!info.isDirectory()) throw new CtrError('INVALID_ARGUMENT', `--docroot ${dir} is not a directory`, {hints: ['give the directory that holds the site (index.html)']})
  if (/[\n,]/.test(path) || !isAbsolute(path)) throw new CtrError('INVALID_ARGUMENT', `--docroot ${JSON.stringify(dir)}: a newline or comma cannot be passed to systemd-nspawn`)
  // The server runs as an unprivileged user of the container (lighttpd: www-data), which is that
  // uid on the host too: a directory only its owner may read would answer 403 Forbidden.
  const warning = (info.mode & 0o005) === 0o005 ? undefined : `${path} is not readable and searchable by others (mode ${(info.mode & 0o777).toString(8)}): the server in the container, an unprivileged user, will answer 403; chmod o+rx it`
  return {path, warning}
}

/** --password-file: its first line; a password made here when FILE is undefined. */
export async function adminPassword(recipe: ServiceRecipe, file: string | undefined): Promise<{password: string; generated: boolean}> {
  if (!recipe.admin) {
    const withAdmin = serviceCatalogue().filter((s) => s.admin).map((s) => s.name)
    if (file !== undefined) throw new CtrError('INVALID_ARGUMENT', `--password-file is for services with an admin user (${withAdmin.join(', ')}), not ${recipe.name}`)
    return {password: '', generated: false}
  }
  if (file === undefined) return {password: randomBytes(15).toString('base64url'), generated: true}
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw new CtrError('INVALID_ARGUMENT', `--password-file ${file}: ${errnoCode(error) === 'ENOENT' ? 'no such file' : `cannot read it (${errnoCode(error) ?? String(error)})`}`)
  }
  const password = text.split('\n')[0].replace(/\r$/, '')
  if (password.length < 8) throw new CtrError('INVALID_ARGUMENT', `--password-file ${file}: its first line must be a password of at least 8 characters`)
  return {password, generated: false}
}

/** MySQL's native password hash: "*" and the upper-case hex of SHA1(SHA1(password)). */
export function mysqlNativeHash(password: string): string {
  const inner = createHash('sha1').update(password, 'utf8').digest()
  return `*${createHash('sha1').update(inner).digest('hex').toUpperCase()}`
}

/** Writes the service's admin file into TREE: read at every start by the service (not by anyone else). */
export async function writeAdminFile(tree: string, recipe: ServiceRecipe, password: string): Promise<void> {
  const admin = recipe.admin
  if (!admin) return
  const gid = groupId((await readInTree(tree, '/etc/group')) ?? '', admin.group)
  if (gid === undefined) throw new CtrError('COMMAND_FAILED', `the tree has no group ${admin.group} (was ${recipe.packages[Object.keys(recipe.packages)[0]]?.join(', ')} installed?)`)
  await writeInTree(tree, admin.path, fileText({path: admin.path, lines: admin.lines}, {passwordHash: mysqlNativeHash(password)}), 0o640, {uid: 0, gid})
}

/** GROUP's id in an /etc/group text. */
export function groupId(groupFile: string, group: string): number | undefined {
  for (const line of groupFile.split('\n')) {
    const [name, , id] = line.split(':')
    if (name === group && /^\d+$/.test(id ?? '')) return Number(id)
  }
  return undefined
}

export interface PackagePlan {
  /** The packages the container lacks. */
  missing: string[]
  /** The image to stack the container on instead of its own (undefined: none needed). */
  layer?: ImageRecord
}

/**
 * Which of RECIPE's packages the container (mounted at TREE) lacks, and the layer that brings
 * them, built now if it is not cached (outside the state lock: it takes a while). A --copy
 * container has no layers: UNSUPPORTED, with what to do instead.
 */
export async function planPackages(root: string, record: ContainerRecord, tree: string, recipe: ServiceRecipe, hooks: LayerHooks): Promise<PackagePlan> {
  const wanted = servicePackages(recipe, record.distro)
  const installed = await installedPackages(tree, record.distro)
  const missing = wanted.filter((p) => !installed.has(p))
  if (missing.length === 0) return {missing}
  if (record.storage === 'copy') {
    throw new CtrError('UNSUPPORTED', `${record.name} is a full copy (--copy) and lacks ${missing.join(', ')}: ctr shares packages between overlay containers only`, {
      hints: [`install them inside it: ctr shell ${record.name} -- apt-get install -y ${missing.join(' ')}; then run this again`],
    })
  }
  const image = await readImage(root, record.image)
  if (!image) throw new CtrError('NOT_FOUND', `image ${record.image} of ${record.name} is gone`)
  return {missing, layer: await ensurePackageLayer(root, image, wanted, hooks)}
}

/**
 * CONFLICT when the container's own upper dir has copies of files the layer brings (a package it
 * installed itself changed /var/lib/dpkg/status, say): stacked under it, the layer's would be
 * hidden and the packages half there.
 */
export async function checkLayerFits(root: string, record: ContainerRecord, layer: ImageRecord, service: string): Promise<void> {
  const own = [...CONTAINER_OWN_PATHS, ...serviceCatalogue().flatMap((s) => [...(s.data ?? []), ...(s.files ?? []).map((f) => f.path), ...(s.admin ? [s.admin.path] : [])])]
  const hidden = await hiddenByUpper(containerPaths(root, record.name).upper, imagePaths(root, layer.id).tree, own)
  if (hidden.length === 0) return
  throw new CtrError('CONFLICT', `${record.name} has its own copies of files the ${service} packages bring (${hidden.slice(0, 3).join(', ')}${hidden.length > 3 ? ', …' : ''}), which would hide theirs`, {
    hints: [`install the packages inside it instead: ctr shell ${record.name} -- apt-get install -y ${(layer.packages ?? []).join(' ')}; then run this again`],
  })
}
