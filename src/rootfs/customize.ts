/**
 * What makes a tree one container and not a copy of the base: its own machine id, hostname and SSH
 * host keys, root's authorized keys, and the ctr service units. Every write goes through tree-fs,
 * so a symlink in the tree never makes ctr write outside it.
 */
import {randomBytes} from 'node:crypto'
import {mkdtemp, readFile, rm} from 'node:fs/promises'
import {join} from 'node:path'
import {run} from '../exec.js'
import type {ContainerRecord} from '../store/containers.js'
import {serviceCatalogue} from '../units/services.js'
import {applyProfile} from './profiles.js'
import {writeServiceUnits} from './service-units.js'
import {mkdirInTree, readInTree, symlinkInTree, writeInTree} from './tree-fs.js'

const HOST_KEY_TYPES = ['ed25519', 'ecdsa', 'rsa'] as const

export interface CustomizeOptions {
  record: ContainerRecord
  authorizedKeys: readonly string[]
  /** Where temporary files may go (on the same machine, never inside the tree). */
  tmpDir: string
}

export async function customizeTree(tree: string, options: CustomizeOptions): Promise<void> {
  const {record} = options
  // machine-id(5): 32 lower-case hex digits; systemd would otherwise make a new one every boot.
  await writeInTree(tree, '/etc/machine-id', `${randomBytes(16).toString('hex')}\n`, 0o444)
  await writeInTree(tree, '/etc/hostname', `${record.name}\n`)
  await writeHosts(tree, record.name)
  await writeHostKeys(tree, record.name, options.tmpDir)
  await mkdirInTree(tree, '/root/.ssh', 0o700)
  await writeInTree(tree, '/root/.ssh/authorized_keys', options.authorizedKeys.map((k) => `${k.trim()}\n`).join(''), 0o600)
  // The distro's always-on units of every catalogued service are masked: the container shares the
  // host's network by default, and an always-on sshd would take the host's port 22.
  for (const service of serviceCatalogue()) {
    for (const unit of service.mask) await symlinkInTree(tree, `/etc/systemd/system/${unit}`, '/dev/null')
  }
  await applyProfile(tree, record.profile)
  await writeServiceUnits(tree, record)
}

async function writeHosts(tree: string, name: string): Promise<void> {
  const hosts = (await readInTree(tree, '/etc/hosts')) ?? '127.0.0.1\tlocalhost\n'
  const kept = hosts.split('\n').filter((line) => line && !line.startsWith('127.0.1.1'))
  await writeInTree(tree, '/etc/hosts', `${[...kept, `127.0.1.1\t${name}`].join('\n')}\n`)
}

/** Fresh host keys for this container alone, made by the host's ssh-keygen outside the tree. */
async function writeHostKeys(tree: string, name: string, tmpDir: string): Promise<void> {
  const dir = await mkdtemp(join(tmpDir, 'hostkeys-'))
  try {
    await Promise.all(
      HOST_KEY_TYPES.map((type) => run(['ssh-keygen', '-q', '-N', '', '-t', type, '-C', `root@${name}`, '-f', join(dir, type)])),
    )
    for (const type of HOST_KEY_TYPES) {
      const key = `/etc/ssh/ssh_host_${type}_key`
      await writeInTree(tree, key, await readFile(join(dir, type)), 0o600)
      await writeInTree(tree, `${key}.pub`, await readFile(join(dir, `${type}.pub`)), 0o644)
    }
  } finally {
    await rm(dir, {recursive: true, force: true})
  }
}
