/**
 * A container's network namespace, for --network private and veth: ctr makes it while the
 * container sleeps and binds it on containers/NAME/netns (unshare --net=FILE), and a boot runs
 * nspawn inside it (nsenter --net=FILE, which execs nspawn and keeps its pid). So a wake makes no
 * namespace, pair or address (nspawn --private-network would make and tear down a namespace at
 * every boot), sysfs inside shows the container's own links only, and the container gets no
 * CAP_NET_ADMIN (nspawn sees "the host's" network): it cannot change its addresses or routes.
 *
 * The namespace lives while the host is up, across boots of the container; a host reboot takes it
 * (the file stays, unmounted), and the activator makes it again before the next wake.
 */
import {closeSync, constants, existsSync, openSync, statfsSync} from 'node:fs'
import {rm} from 'node:fs/promises'
import type {ContainerRecord} from '../store/containers.js'
import {containerPaths} from '../store/paths.js'
import {netnsPrefix, runProgram} from './run.js'
import {addVeth, deleteVeth, hostIfname, vethUp} from './veth.js'

/** statfs(2)'s f_type of a namespace file (linux/magic.h NSFS_MAGIC). */
const NSFS_MAGIC = 0x6e736673

/** PATH is a namespace bound there (not the empty file it is mounted on, as after a host reboot). */
export function isNamespaceFile(path: string): boolean {
  try {
    return statfsSync(path).type === NSFS_MAGIC
  } catch {
    return false
  }
}

/** RECORD's network is there as its mode needs it: a boot can join it at once. */
export function networkReady(root: string, record: ContainerRecord): boolean {
  if (record.network !== 'private' && record.network !== 'veth') return true
  if (!isNamespaceFile(containerPaths(root, record.name).netns)) return false
  // A private one that was veth has a pair to lose.
  return record.network === 'veth' ? vethUp(root, record.name) : !existsSync(`/sys/class/net/${hostIfname(root, record.name)}`)
}

/**
 * Makes RECORD's network (each step may be done again): the namespace with its loopback up, and
 * for veth the pair into it (veth.ts); a private container loses a pair it had as a veth one.
 */
export async function prepareNetwork(root: string, record: ContainerRecord): Promise<void> {
  if (record.network !== 'private' && record.network !== 'veth') return
  const netns = containerPaths(root, record.name).netns
  if (!isNamespaceFile(netns)) {
    // The mount point: an empty file of ctr's own, in the container's dir (not in its tree).
    closeSync(openSync(netns, constants.O_WRONLY | constants.O_CREAT | constants.O_NOFOLLOW, 0o600))
    await runProgram(['unshare', `--net=${netns}`, 'true'])
  }
  await runProgram([...netnsPrefix(netns), 'ip', 'link', 'set', 'lo', 'up'])
  if (record.network === 'veth' && record.address) await addVeth(root, record.name, record.address, netns)
  else await deleteVeth(root, record.name)
}

/**
 * NAME's network namespace (NETNS: where its dir is now) gone, with its pair (ctr rm; a container
 * whose network is the host's again). The pair first, at once (see deleteVeth), then the mount.
 */
export async function teardownNetwork(root: string, name: string, netns = containerPaths(root, name).netns): Promise<void> {
  await deleteVeth(root, name)
  if (isNamespaceFile(netns)) await runProgram(['umount', netns])
  await rm(netns, {force: true})
}
