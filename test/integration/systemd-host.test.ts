/**
 * ctr on a systemd host (issue 13): inside a container of the test root that boots systemd fully
 * (test/helpers/systemd-host.ts), ctr runs from this checkout against a nested root. There nspawn
 * registers with machined, so machinectl and journalctl -M see the nested containers, and a
 * machine's scope carries the limits.
 */
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {makeSystemdHost, type SystemdHost} from '../helpers/systemd-host.js'
import {skipReason} from '../helpers/roots.js'

const skip = skipReason()

describe.skipIf(skip)('ctr on a systemd host', () => {
  let host: SystemdHost

  beforeAll(async () => {
    host = await makeSystemdHost()
    console.log(`systemd host ready: ${JSON.stringify(host.timings)}`)
  })
  afterAll(async () => {
    await host?.destroy()
  })

  it('runs with systemd as PID 1, machined there, and the nested root on the host\'s file system', async () => {
    const r = await host.sh('cat /proc/1/comm; test -d /run/systemd/system && echo booted; command -v systemd-nspawn machinectl; findmnt -no FSTYPE /var/lib/ctr; ctr images')
    expect(r.stderr).toBe('')
    expect(r.stdout).toMatch(/^systemd\nbooted\n\/usr\/bin\/systemd-nspawn\n\/usr\/bin\/machinectl\next4\n/)
    expect(r.stdout).toMatch(/^debian-bookworm\s+debian\s+bookworm/m)
  })

  it('a nested container registers with machined: machinectl list and status, journalctl -M', async () => {
    const made = await host.sh('ctr create debian inner --network host && ctr start --now inner')
    expect(made.exitCode, made.stderr).toBe(0)
    // Its journal is there once its journald runs.
    let journal = ''
    for (let tries = 0; tries < 40 && !/Startup finished/.test(journal); tries++) {
      journal = (await host.sh('journalctl -M inner --no-pager -q 2>&1')).stdout
      if (!/Startup finished/.test(journal)) await new Promise((resolve) => setTimeout(resolve, 250))
    }
    expect(journal).toMatch(/inner systemd\[1\]: Startup finished/)
    const list = await host.sh('machinectl list --no-legend')
    expect(list.stdout).toMatch(/^inner\s+container\s+systemd-nspawn\s+debian\s+12/m)
    const status = await host.sh('machinectl status inner --no-pager')
    expect(status.stdout).toMatch(/Root: \/var\/lib\/ctr\/containers\/inner\/rootfs/)
    expect(status.stdout).toMatch(/Unit: machine-inner\.scope/)
    const argv = await host.sh('tr "\\0" " " < /proc/$(pgrep -x systemd-nspawn | head -1)/cmdline')
    expect(argv.stdout).not.toMatch(/--register=no|--keep-unit/)
    const stopped = await host.sh('ctr stop inner && machinectl list --no-legend')
    expect(stopped.exitCode).toBe(0)
    expect(stopped.stdout).not.toMatch(/^inner\s/m)
  })

  it('a nested veth container is woken by ssh and reaches its host through the NAT; its scope has the limits', async () => {
    const made = await host.sh('ctr create debian web --ssh-port 2222 --memory 256M --pids 200 --cpus 0.5 && ctr start web')
    expect(made.exitCode, made.stderr).toBe(0)
    // Egress stays on this machine: from inside, the systemd host's own end of the pair, where the
    // nested activator holds port 2222 for this very container (its sshd answers through it).
    const ssh = await host.sh('a=$(ctr ls --json | grep -o \'"address": *"[0-9.]*"\' | grep -o \'[0-9.]*[0-9]\'); gw=${a%.*}.$(( ${a##*.} - 1 )); s=$(date +%s%N); ssh -o StrictHostKeyChecking=accept-new -o BatchMode=yes -p 2222 root@127.0.0.1 "hostname; timeout 10 head -c 7 </dev/tcp/$gw/2222; echo"; echo "ssh: $(( ($(date +%s%N)-s)/1000000 )) ms" >&2', 120_000)
    console.log(ssh.stderr)
    expect(ssh.stdout).toBe('web\nSSH-2.0')
    const status = await host.sh('machinectl status web --no-pager; systemctl show machine-web.scope -p MemoryMax -p TasksMax -p CPUQuotaPerSecUSec')
    expect(status.stdout).toMatch(/Address: 10\.214\.\d+\.\d+/)
    expect(status.stdout).toMatch(/^MemoryMax=268435456$/m)
    expect(status.stdout).toMatch(/^TasksMax=200$/m)
    expect(status.stdout).toMatch(/^CPUQuotaPerSecUSec=500ms$/m)
  })
})
