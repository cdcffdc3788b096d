/**
 * --network veth: a container gets an address of its own on a veth pair into its network namespace
 * (netns.ts: made while it sleeps), and reaches out through the host with NAT; nothing outside
 * reaches it but through its exposed ports (the passed sockets, which do not need the veth at all).
 * ctr sets up both ends itself with the host's own `ip` (inside: in the container's network
 * namespace only, nothing of its tree runs) and one nftables table per state root, so no
 * systemd-networkd is needed on either side.
 *
 * Addresses: each container a /30 of the range (CTR_VETH_RANGE, 10.213.0.0/16 by default): the
 * host's end is its first address, the container's the second. It is allocated at create or update
 * (the lowest /30 no other container of the root has), kept in the record, so it is the same at
 * every boot and after a host reboot, and free again once the container is removed.
 */
import {createHash} from 'node:crypto'
import {existsSync, readFileSync} from 'node:fs'
import {resolve} from 'node:path'
import {CtrError} from '../errors.js'
import {netnsPrefix, runProgram} from './run.js'

/** The range addresses come from when CTR_VETH_RANGE does not say. */
export const DEFAULT_VETH_RANGE = '10.213.0.0/16'
/** Inside the container the link is called so. */
export const CONTAINER_IFNAME = 'host0'

export interface VethAddress {
  /** The container's address. */
  address: string
  /** The host's end of its pair: the container's gateway. */
  gateway: string
  prefix: 30
}

function toNumber(ip: string): number {
  const parts = ip.split('.').map(Number)
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p < 0 || p > 255)) throw new Error(`not an IPv4 address: ${ip}`)
  return ((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3]
}

function toIp(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.')
}

/** [first, size] of a CIDR range given as A.B.C.D/N (N from 8 to 29). */
export function parseRange(cidr: string): {first: number; size: number} {
  const m = /^(\d+\.\d+\.\d+\.\d+)\/(\d+)$/.exec(cidr.trim())
  const bits = m ? Number(m[2]) : NaN
  if (!m || !(bits >= 8 && bits <= 29)) {
    throw new CtrError('INVALID_ARGUMENT', `CTR_VETH_RANGE must be an IPv4 range such as ${DEFAULT_VETH_RANGE} (a prefix from /8 to /29), not ${JSON.stringify(cidr)}`)
  }
  let first: number
  try {
    first = toNumber(m[1])
  } catch {
    throw new CtrError('INVALID_ARGUMENT', `CTR_VETH_RANGE must be an IPv4 range such as ${DEFAULT_VETH_RANGE}, not ${JSON.stringify(cidr)}`)
  }
  const size = 2 ** (32 - bits)
  return {first: first - (first % size), size}
}

/** The container's and its gateway's addresses in the /30 that ADDRESS (a container's) is in. */
export function vethPair(address: string): VethAddress {
  const n = toNumber(address)
  const block = n - (n % 4)
  return {address: toIp(block + 2), gateway: toIp(block + 1), prefix: 30}
}

/** The lowest /30 of RANGE that none of TAKEN (containers' and the host's addresses) is in; the container's address in it. */
export function allocateAddress(taken: readonly string[], range = process.env.CTR_VETH_RANGE ?? DEFAULT_VETH_RANGE): string {
  const {first, size} = parseRange(range)
  const used = new Set(taken.map((a) => toNumber(a) - (toNumber(a) % 4)))
  for (let block = first; block + 4 <= first + size; block += 4) {
    if (!used.has(block)) return toIp(block + 2)
  }
  throw new CtrError('NO_SPACE', `no veth address is left in ${range} (${size / 4} containers at most)`, {hints: ['set a larger range: CTR_VETH_RANGE=10.213.0.0/16']})
}

/** The host's end of NAME's pair: at most 15 characters, the same for every activator of ROOT. */
export function hostIfname(root: string, name: string): string {
  return `vc-${createHash('sha256').update(`${resolve(root)}\0${name}`).digest('hex').slice(0, 10)}`
}

/** The nftables table of ROOT's veth containers (ip family). */
export function natTable(root: string): string {
  return `ctr_${createHash('sha256').update(resolve(root)).digest('hex').slice(0, 12)}`
}

/**
 * The table, whole: forwarding out (masqueraded) for its containers, replies back in, and nothing
 * else in: not from outside, and not from one container to another (each customer's container is
 * kept from the others). GUARD (when forwarding was off until ctr turned it on): nothing else is
 * forwarded either, so the host does not become a router for anything but its containers.
 */
export function natRuleset(table: string, guard: boolean): string {
  return [
    `table ip ${table} {`,
    '  set containers { type ipv4_addr; }',
    '  chain postrouting { type nat hook postrouting priority srcnat; policy accept;',
    '    ip saddr @containers ip daddr != @containers masquerade',
    '  }',
    '  chain forward { type filter hook forward priority filter; policy accept;',
    '    ip daddr @containers ct state established,related accept',
    '    ip daddr @containers drop',
    ...(guard ? ['    ip saddr != @containers drop'] : []),
    '  }',
    '}',
    '',
  ].join('\n')
}

/** The table of ROOT exists (made once per activator, and again after a host reboot). */
const tablesMade = new Set<string>()

/** The host's end of NAME's pair exists and is up (the last step of addVeth). */
export function vethUp(root: string, name: string): boolean {
  try {
    return (Number.parseInt(readFileSync(`/sys/class/net/${hostIfname(root, name)}/flags`, 'utf8'), 16) & 1) === 1
  } catch {
    return false
  }
}

/**
 * NAME's pair, into its network namespace NETNS (netns.ts): the container's end (host0) in it with
 * its address and a default route via the host's end, forwarding on, the address in the root's NAT
 * set, and last the host's end up with the gateway address. All with the host's own ip, nft and
 * sysctl: nothing of the tree runs. Each step may be done again.
 */
export async function addVeth(root: string, name: string, address: string, netns: string): Promise<void> {
  const pair = vethPair(address)
  const ifname = hostIfname(root, name)
  if (!existsSync(`/sys/class/net/${ifname}`)) {
    await runProgram(['ip', 'link', 'add', ifname, 'type', 'veth', 'peer', 'name', CONTAINER_IFNAME, 'netns', netns])
  }
  const inside = [`addr replace ${pair.address}/${pair.prefix} dev ${CONTAINER_IFNAME}`, `link set ${CONTAINER_IFNAME} up`, `route replace default via ${pair.gateway}`]
  await runProgram([...netnsPrefix(netns), 'ip', '-batch', '-'], `${inside.join('\n')}\n`)
  await ensureNat(root, address)
  await runProgram(['ip', 'addr', 'replace', `${pair.gateway}/${pair.prefix}`, 'dev', ifname])
  await runProgram(['ip', 'link', 'set', ifname, 'up'])
}

/**
 * ROOT's table is there with ADDRESS (a container's) in its set, and forwarding is on. A table that
 * exists is kept as it is (its set holds the other containers' addresses: an activator that starts
 * again must not drop them); one that does not (the first veth container, a host reboot, a flushed
 * ruleset) is made, with the guard if forwarding was still off.
 */
export async function ensureNat(root: string, address: string): Promise<void> {
  const table = natTable(root)
  const forwarding = (await runProgram(['sysctl', '-n', 'net.ipv4.ip_forward'])).trim() === '1'
  if (!tablesMade.has(table)) {
    const exists = await runProgram(['nft', 'list', 'table', 'ip', table]).then(() => true, () => false)
    if (!exists) await runProgram(['nft', '-f', '-'], natRuleset(table, !forwarding))
    tablesMade.add(table)
  }
  // Written only when off: inside a container (a nested systemd host) /proc/sys is read-only, and
  // forwarding there is already on (its namespace was made by the outer ctr).
  if (!forwarding) await runProgram(['sysctl', '-q', '-w', 'net.ipv4.ip_forward=1'])
  await runProgram(['nft', 'add', 'element', 'ip', table, 'containers', `{ ${vethPair(address).address} }`])
}

/** The IPv4 addresses the host's own links have (`ip -4 -o addr`): a /30 with one of them is not free. */
export async function hostAddresses(): Promise<string[]> {
  const out = await runProgram(['ip', '-4', '-o', 'addr', 'show'])
  return [...out.matchAll(/\sinet (\d+\.\d+\.\d+\.\d+)\//g)].map((m) => m[1])
}

/** NAME's pair gone, both ends at once (the namespace's end would otherwise go only when the kernel gets round to it). */
export async function deleteVeth(root: string, name: string): Promise<void> {
  const ifname = hostIfname(root, name)
  if (existsSync(`/sys/class/net/${ifname}`)) await runProgram(['ip', 'link', 'del', ifname])
}

/** The address is out of the root's NAT set (ctr rm); nothing when there is no table. */
export async function releaseVeth(root: string, address: string): Promise<void> {
  await runProgram(['nft', 'delete', 'element', 'ip', natTable(root), 'containers', `{ ${vethPair(address).address} }`]).catch(() => {})
}

/** ROOT's table gone (a test's teardown; a root removed whole). */
export async function removeNatTable(root: string): Promise<void> {
  tablesMade.delete(natTable(root))
  await runProgram(['nft', 'delete', 'table', 'ip', natTable(root)]).catch(() => {})
}
