/**
 * A systemd host to test ctr on (issue 13): a ctr container of the test root booted with the full
 * profile, systemd-container and what bin/setup installs put in by a package layer (apt-get inside the
 * base, not booted: nothing of the tree runs on the host), this machine's node and this checkout bound
 * in read-only, and a nested state root on the host's file system (an overlay upper dir cannot be
 * on the container's own overlay: "overlay: filesystem on ... not supported as upperdir"). The
 * run's cached base is bound read-only into the nested root's images/, so the nested ctr creates
 * from it at once, with no export and import. Inside, ctr runs from the bound checkout with
 * systemd as PID 1: nspawn registers with machined (machinectl list shows the nested containers),
 * and the nested activator runs as the unit `ctr activator --unit` prints.
 *
 * Needs the create flags --bind-ro, --bind and --capability (branch i13-proto). With network veth
 * (the default) the outer container keeps CAP_NET_ADMIN, so that the nested ctr can make its own veth
 * containers (a pair, addresses, its nftables table in the outer's namespace); the nested containers
 * then take their addresses from NESTED_VETH_RANGE, apart from the outer root's range.
 */
import {mkdir, realpath} from 'node:fs/promises'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {layout} from '../../src/store/paths.js'
import {CHECKOUT, ctr} from './cli.js'
import {destroyRoot} from './cleanup.js'

/** What bin/setup installs that a Debian base lacks and ctr needs on the host (dbus, systemd, procps, openssh-client, util-linux are in the base). */
export const HOST_PACKAGES = ['systemd-container', 'debootstrap', 'iproute2', 'nftables', 'ca-certificates']
/** Where the nested ctr keeps its state, inside; the host directory behind it is ROOT/nested. */
export const NESTED_ROOT = '/var/lib/ctr'
/** The nested containers' veth addresses (the outer root's are CTR_VETH_RANGE's, default 10.213.0.0/16). */
export const NESTED_VETH_RANGE = '10.214.0.0/16'

export interface SystemdHost {
  /** The outer state root (this machine's ctr). */
  root: string
  name: string
  /** bash -c SCRIPT inside the host, as root, with ctr on PATH and the nested root's settings. */
  sh(script: string, timeoutMs?: number): Promise<{exitCode: number | undefined; stdout: string; stderr: string}>
  /** Powers the host off (its nested containers with it) and destroys the outer root. */
  destroy(): Promise<void>
  /** How long each step took, in ms. */
  timings: Record<string, number>
}

export interface SystemdHostOptions {
  name?: string
  network?: 'veth' | 'host'
}

/**
 * A systemd host as a container of ROOT (a state root of its own, which destroy() removes) made from
 * base image ID of CACHE_ROOT (linked into ROOT's images/).
 */
export async function bootSystemdHost(options: SystemdHostOptions & {root: string; cacheRoot: string; id: string}): Promise<SystemdHost> {
  const {root, cacheRoot, id} = options
  const name = options.name ?? 'systemd-host'
  const network = options.network ?? 'veth'
  const timings: Record<string, number> = {}
  const step = async <T>(label: string, work: () => Promise<T>): Promise<T> => {
    const started = performance.now()
    try {
      return await work()
    } finally {
      timings[label] = Math.round(performance.now() - started)
    }
  }
  const must = async (label: string, args: string[]) => {
    const result = await step(label, () => ctr(root, args))
    if (result.exitCode !== 0) throw new Error(`ctr ${args.join(' ')}: exit ${result.exitCode}\n${result.stderr}`)
    return result
  }
  const sh: SystemdHost['sh'] = async (script, timeoutMs) => {
    const result = await ctr(root, ['shell', name, '--', 'bash', '-c', `export CTR_ROOT=${NESTED_ROOT} CTR_VETH_RANGE=${NESTED_VETH_RANGE} NO_COLOR=1; ${script}`], {timeoutMs})
    return {exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr}
  }
  try {
    const nested = join(root, 'nested')
    await mkdir(nested, {mode: 0o700})
    const node = await realpath(process.execPath)
    const base = await realpath(join(layout(cacheRoot).images, id))
    await must('create', [
      'create', 'debian', name, '--profile', 'full', '--idle-timeout', '0', '--network', network,
      '--packages', HOST_PACKAGES.join(','),
      '--bind-ro', `${node}:/usr/local/bin/node`,
      '--bind-ro', `${CHECKOUT}:/opt/ctr`,
      '--bind', `${nested}:${NESTED_ROOT}`,
      '--bind-ro', `${base}:${NESTED_ROOT}/images/${id}`,
      ...(network === 'veth' ? ['--capability', 'CAP_NET_ADMIN'] : []),
      // nspawn's seccomp filter refuses pidfd_getfd (EPERM) to the container's own processes: the
      // nested activator, a service there, could not take its sockets back from its holder.
      '--system-call-filter', 'pidfd_getfd',
    ])
    await must('start', ['start', '--now', name])
    // Booted is when its systemd says so (the bus is up a moment after PID 1).
    await step('boot', async () => {
      for (let tries = 0; ; tries++) {
        const state = (await sh('systemctl is-system-running 2>/dev/null')).stdout.trim()
        if (state === 'running' || state === 'degraded') return
        if (tries > 120) throw new Error(`${name} did not finish booting: systemctl is-system-running says ${JSON.stringify(state)}`)
        await sleep(250)
      }
    })
    // The nested activator as a unit of the host's systemd (in its cgroup, started at each boot).
    const setup = await step('activator unit', () =>
      sh('ln -sf /opt/ctr/bin/ctr /usr/local/bin/ctr && ctr activator --unit > /etc/systemd/system/ctr-activator.service && systemctl daemon-reload && systemctl enable --now ctr-activator.service 2>&1 && (test -f ~/.ssh/id_ed25519 || ssh-keygen -q -t ed25519 -N "" -f ~/.ssh/id_ed25519)'),
    )
    if (setup.exitCode !== 0) throw new Error(`setting up ${name}'s activator: ${setup.stdout}${setup.stderr}`)
  } catch (error) {
    await destroyRoot(root)
    throw error
  }
  return {
    root,
    name,
    sh,
    timings,
    destroy: async () => {
      await ctr(root, ['stop', name])
      await destroyRoot(root)
    },
  }
}
