/** Container records under ROOT/containers/NAME/container.json. */
import {readdir} from 'node:fs/promises'
import {CtrError, errnoCode} from '../errors.js'
import {readJson, writeJsonAtomic} from './atomic.js'
import {containerPaths, layout} from './paths.js'

/** One exposed socket: the container's SERVICE listens on ADDRESS:PORT (ADDRESS unset = `::`, dual-stack). */
export interface Exposure {
  port: number
  service: string
  address?: string
}

export type Storage = 'overlay' | 'copy'

export interface ContainerRecord {
  name: string
  distro: string
  release: string
  /** Id of the cached base image the container was made from. */
  image: string
  storage: Storage
  profile: string
  createdAt: string
  ports: Exposure[]
  /** Seconds with no established connection before the container is powered off; 0 = never. */
  idleTimeoutSec: number
}

export async function readContainer(root: string, name: string): Promise<ContainerRecord | undefined> {
  return readJson<ContainerRecord>(containerPaths(root, name).record)
}

export async function getContainer(root: string, name: string): Promise<ContainerRecord> {
  const record = await readContainer(root, name)
  if (!record) {
    const names = (await listContainers(root)).map((c) => c.name)
    throw new CtrError('NOT_FOUND', `no container named ${name}`, {
      hints: [names.length > 0 ? `known containers: ${names.join(', ')}` : 'create one: ctr create debian NAME'],
    })
  }
  return record
}

export async function writeContainer(root: string, record: ContainerRecord): Promise<void> {
  await writeJsonAtomic(containerPaths(root, record.name).record, record)
}

/** Every container with a complete record; half-made directories (no record) are not containers. */
export async function listContainers(root: string): Promise<ContainerRecord[]> {
  let entries: string[]
  try {
    entries = await readdir(layout(root).containers)
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') return []
    throw error
  }
  const records = await Promise.all(entries.filter((e) => !e.startsWith('.')).map((name) => readContainer(root, name)))
  return records.filter((r): r is ContainerRecord => r !== undefined).sort((a, b) => a.name.localeCompare(b.name))
}

export function describeExposure(e: Exposure): string {
  const address = e.address ? (e.address.includes(':') ? `[${e.address}]` : e.address) : '*'
  return `${address}:${e.port}/${e.service}`
}
