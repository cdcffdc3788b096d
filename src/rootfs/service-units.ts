/**
 * The ctr units inside a container tree, rewritten from the container's record: for every service
 * with exposed ports, its socket unit (all its ports) enabled in sockets.target.wants and its
 * per-connection template service; for services no longer exposed, their units removed. Takes
 * effect at the container's next boot.
 */
import type {ContainerRecord} from '../store/containers.js'
import {fileText, filesFor, getService, localSocketUnitName, localSocketUnitText, serviceUnitName, serviceUnitText, socketUnitName, socketUnitText, type ServiceRecipe} from '../units/services.js'
import {listInTree, readInTree, removeInTree, symlinkInTree, writeInTree} from './tree-fs.js'

const UNIT_DIR = '/etc/systemd/system'
const WANTS_DIR = `${UNIT_DIR}/sockets.target.wants`

export async function writeServiceUnits(tree: string, record: Pick<ContainerRecord, 'name' | 'distro' | 'ports' | 'profile'>): Promise<void> {
  const lean = record.profile === 'lean'
  const byService = new Map<string, ContainerRecord['ports']>()
  for (const e of record.ports) byService.set(e.service, [...(byService.get(e.service) ?? []), e])

  for (const service of await ctrServicesInTree(tree)) {
    if (!byService.has(service)) await removeServiceUnits(tree, service)
  }
  for (const [name, exposures] of byService) {
    const recipe = getService(name)
    await writeServiceFiles(tree, record, recipe)
    const socket = socketUnitName(name)
    await writeInTree(tree, `${UNIT_DIR}/${serviceUnitName(name, recipe.socket.accept)}`, serviceUnitText(recipe, {lean}))
    await writeInTree(tree, `${UNIT_DIR}/${socket}`, socketUnitText(recipe, exposures, {lean}))
    // `systemctl enable`: only units wanted by sockets.target are loaded when the container's
    // systemd distributes the fds it was passed; an fd no loaded unit matches is closed.
    await symlinkInTree(tree, `${WANTS_DIR}/${socket}`, `${UNIT_DIR}/${socket}`)
    const local = localSocketUnitText(recipe, {lean})
    if (local) {
      await writeInTree(tree, `${UNIT_DIR}/${localSocketUnitName(name)}`, local)
      await symlinkInTree(tree, `${WANTS_DIR}/${localSocketUnitName(name)}`, `${UNIT_DIR}/${localSocketUnitName(name)}`)
    }
    for (const unit of recipe.mask) await symlinkInTree(tree, `${UNIT_DIR}/${unit}`, '/dev/null')
  }
}

/** The recipe's files for this container (its configuration, a placeholder page the site may replace). */
async function writeServiceFiles(tree: string, record: Pick<ContainerRecord, 'name' | 'distro'>, recipe: ServiceRecipe): Promise<void> {
  for (const file of filesFor(recipe.files, record.distro)) {
    if (file.keep && (await readInTree(tree, file.path).catch(() => '')) !== undefined) continue
    await writeInTree(tree, file.path, fileText(file, {name: record.name}), file.mode === undefined ? 0o644 : parseInt(file.mode, 8))
  }
}

async function removeServiceUnits(tree: string, service: string): Promise<void> {
  const socket = socketUnitName(service)
  await removeInTree(tree, `${WANTS_DIR}/${socket}`)
  await removeInTree(tree, `${UNIT_DIR}/${socket}`)
  await removeInTree(tree, `${WANTS_DIR}/${localSocketUnitName(service)}`)
  await removeInTree(tree, `${UNIT_DIR}/${localSocketUnitName(service)}`)
  await removeInTree(tree, `${UNIT_DIR}/${serviceUnitName(service, true)}`)
  await removeInTree(tree, `${UNIT_DIR}/${serviceUnitName(service, false)}`)
}

/** Services whose ctr socket unit is in the tree now. */
async function ctrServicesInTree(tree: string): Promise<string[]> {
  // ctr-NAME-local.socket is NAME's second unit (localSocketUnitName), not a service of its own.
  return (await listInTree(tree, UNIT_DIR)).flatMap((n) => (n.endsWith('-local.socket') ? [] : (/^ctr-(.+)\.socket$/.exec(n)?.[1] ?? [])))
}
