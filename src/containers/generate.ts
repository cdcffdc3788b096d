/**
 * ctr generate units NAME: the seed's socket and service units for one container (units/seed-units.ts),
 * from its record and the paths of its tree.
 */
import {CtrError} from '../errors.js'
import {findProgram} from '../exec.js'
import {lowerTrees} from '../rootfs/images.js'
import {idmapsLowers} from '../rootfs/uid-ranges.js'
import {getContainer, recordBinds, serviceBinds} from '../store/containers.js'
import {containerPaths} from '../store/paths.js'
import {findService} from '../units/services.js'
import {seedUnits, type SeedUnits} from '../units/seed-units.js'

export interface GeneratedUnits extends SeedUnits {
  /** What the units do not do as ctr would, in a line each. */
  notes: string[]
}

export async function generateUnits(root: string, name: string): Promise<GeneratedUnits> {
  const record = await getContainer(root, name)
  if (record.ports.length === 0) {
    throw new CtrError('INVALID_ARGUMENT', `${name} exposes no port: its socket unit would listen on nothing`, {hints: [`expose one first: ctr expose 2222 ssh -c ${name}`]})
  }
  if (idmapsLowers(record)) {
    throw new CtrError('INVALID_ARGUMENT', `${name} is an overlay with user IDs of its own, whose idmapped layers only ctr mounts`, {
      hints: [`run it with ctr start ${name}, or make it a copy: ctr create ${record.distro} NAME --copy --private-users`],
    })
  }
  const paths = containerPaths(root, name)
  const own = recordBinds(record)
  const units = seedUnits(record, {
    rootfs: paths.rootfs,
    overlay: record.storage === 'overlay' ? {lowers: await lowerTrees(root, record.image), upper: paths.upper, work: paths.work} : undefined,
    binds: [...serviceBinds(record, (service) => findService(service)?.docroot), ...own.readOnly],
    bindsReadWrite: own.readWrite,
    nspawn: findProgram('systemd-nspawn') ?? '/usr/bin/systemd-nspawn',
    mount: findProgram('mount') ?? '/usr/bin/mount',
  })
  const notes: string[] = []
  if (record.network === 'veth') notes.push(`${name} has --network veth: the units give it nspawn's own veth pair (--network-veth), whose addresses and NAT are systemd-networkd's work there, not ctr's`)
  if (record.idleTimeoutSec > 0) notes.push(`its idle timeout (${record.idleTimeoutSec} s) is ctr's activator's: under these units it runs until stopped`)
  return {...units, notes}
}
