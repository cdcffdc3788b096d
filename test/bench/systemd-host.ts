/**
 * `npm run bench -- systemd-host` (issue 13): on a real systemd host (the test bed of
 * test/helpers/systemd-host.ts: a full-profile ctr container with systemd as PID 1, machined, and
 * ctr's activator as the unit `ctr activator --unit` writes), the wake of a container through ctr's
 * activator against the same container run by the seed's own units (`ctr generate units`: systemd
 * holds the socket and starts systemd-nspawn -jb itself), side by side, interleaved:
 * - cold: connect -> first byte of sshd's banner, the container off and its port held;
 * - warm: the same with the container running (nothing of ctr's or systemd's is in the path then).
 * Both containers are overlays on the same base, on the bed's network, registered with machined.
 * Target: ctr's cold and warm wakes at most 1.05x the seed units'.
 */
import {ensureImage, imageId} from '../../src/rootfs/images.js'
import {linkedRoot} from '../helpers/state-roots.js'
import {bootSystemdHost} from '../helpers/systemd-host-boot.js'
import {median} from './stats.js'
import type {Wakes} from './systemd-host-inside.js'

const CTR_PORT = 2301
const SEED_PORT = 2302

export interface SystemdHostBench {
  rounds: number
  warmPerRound: number
  setupMs: Record<string, number>
  schemes: Record<string, Wakes & {coldMedian: number; warmMedian: number}>
  ratios: {cold: number; warm: number}
  targets: {coldAtMost105: boolean; warmAtMost105: boolean}
}

export async function benchSystemdHost(root: string, log: (line: string) => void): Promise<SystemdHostBench> {
  const rounds = Number(process.env.CTR_BENCH_SYSTEMD_HOST_ROUNDS ?? 10)
  const warmPerRound = 3
  // The bed is a container of a state root of its own over this run's base (destroy() removes it).
  await ensureImage(root, {distro: 'debian'})
  const id = imageId('debian', 'bookworm')
  const bedRoot = await linkedRoot('ctr-bench-systemd-host-', root, [id])
  log('systemd-host: making the test bed (a full-profile container with systemd as PID 1; its package layer is built once)')
  const host = await bootSystemdHost({root: bedRoot, cacheRoot: root, id, name: 'bench-systemd-host'})
  try {
    log(`systemd-host: bed ready: ${JSON.stringify(host.timings)}`)
    const must = async (script: string) => {
      const r = await host.sh(script, 300_000)
      if (r.exitCode !== 0) throw new Error(`in the bed: ${script}: exit ${r.exitCode}\n${r.stdout}${r.stderr}`)
      return r
    }
    // ctr's: held by the activator unit. The seed's: its port given up by ctr (a plain stop), its
    // pair installed and its socket started.
    await must(`ctr create debian act --network host --idle-timeout 0 --ssh-port ${CTR_PORT} && ctr start act`)
    await must(`ctr create debian seed --network host --idle-timeout 0 && ctr expose ${SEED_PORT} ssh -c seed && ctr generate units seed --dir /etc/systemd/system && systemctl daemon-reload && systemctl start seed.socket`)
    log(`systemd-host: ${rounds} interleaved rounds of a cold and ${warmPerRound} warm wakes: ctr's activator on ${CTR_PORT}, the seed's units on ${SEED_PORT}`)
    const r = await host.sh(`node /opt/ctr/dist/test/bench/systemd-host-inside.js ${rounds} ${warmPerRound} act ${CTR_PORT} seed ${SEED_PORT}`, 1_800_000)
    for (const line of r.stderr.split('\n').filter(Boolean)) log(`systemd-host: ${line}`)
    if (r.exitCode !== 0) throw new Error(`the measuring run in the bed failed: exit ${r.exitCode}`)
    const figures = JSON.parse(r.stdout.trim().split('\n').pop()!) as Record<string, Wakes>
    const schemes: SystemdHostBench['schemes'] = {}
    for (const [name, w] of Object.entries(figures)) schemes[name] = {...w, coldMedian: median(w.cold), warmMedian: median(w.warm)}
    const ratios = {cold: schemes.ctr.coldMedian / schemes.seed.coldMedian, warm: schemes.ctr.warmMedian / schemes.seed.warmMedian}
    log(`systemd-host: seed's units (reference): cold wake median ${schemes.seed.coldMedian.toFixed(0)} ms, warm ${schemes.seed.warmMedian.toFixed(1)} ms`)
    log(`systemd-host: ctr's activator: cold wake median ${schemes.ctr.coldMedian.toFixed(0)} ms (${ratios.cold.toFixed(3)}x, target <= 1.05), warm ${schemes.ctr.warmMedian.toFixed(1)} ms (${ratios.warm.toFixed(3)}x, target <= 1.05)`)
    return {rounds, warmPerRound, setupMs: host.timings, schemes, ratios, targets: {coldAtMost105: ratios.cold <= 1.05, warmAtMost105: ratios.warm <= 1.05}}
  } finally {
    // Its containers, the seed's units' with them, power off with it.
    await host.destroy()
  }
}
