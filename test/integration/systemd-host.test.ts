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
if (skip) console.warn(`test/integration/systemd-host.test.ts: ${skip}`)

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

  it('the activator as the unit ctr activator --unit writes: systemctl restart and systemctl kill -s KILL of it refuse no connection', async () => {
    const made = await host.sh('ctr create debian held --network host --ssh-port 2223 && ctr start held && systemctl is-active ctr-activator')
    expect(made.exitCode, made.stderr).toBe(0)
    const journal = async () => (await host.sh('journalctl -u ctr-activator --no-pager -o cat -n 40')).stdout
    // A connection to the sleeping container while the activator restarts, and one while it is dead
    // (killed, systemd restarting it a second later): both wait in the held socket and are served.
    const banner = 'timeout 60 head -c 7 </dev/tcp/127.0.0.1/2223; echo'
    const restart = await host.sh(`systemctl restart ctr-activator & sleep 0.1; ${banner}; wait; systemctl is-active ctr-activator`, 120_000)
    expect(restart.stdout, `${restart.stderr}\n${await journal()}`).toBe('SSH-2.0\nactive')
    const stopped = await host.sh('ctr stop --hold held')
    expect(stopped.exitCode, `${stopped.stderr}\n${await journal()}`).toBe(0)
    const before = (await host.sh('systemctl show -p MainPID --value ctr-activator')).stdout.trim()
    // The socket holder is in a scope of its own: the service's cgroup has the activator alone, which
    // is all a kill of the whole service (systemctl kill's default, --kill-whom=all) kills.
    const cgroup = await host.sh('cat /sys/fs/cgroup/systemd/system.slice/ctr-activator.service/cgroup.procs; systemctl list-units --no-legend --plain "ctr-*.scope"')
    expect(cgroup.stdout.split('\n')[0]).toBe(before)
    expect(cgroup.stdout).toMatch(/^ctr-holder-\d+\.scope\s+loaded active running/m)
    const kill = await host.sh(`systemctl kill -s KILL ctr-activator; ${banner}; sleep 1; systemctl show -p MainPID --value ctr-activator`, 120_000)
    const [served, after] = kill.stdout.split('\n')
    expect(served, `${kill.stderr}\n${await journal()}`).toBe('SSH-2.0')
    expect(after).not.toBe(before)
    // A client loop through both, 50 ms apart, now that the container runs (its nspawn in a scope
    // of its own too): none refused or cut.
    const loop = await host.sh(
      `(ok=0; bad=0; end=$((SECONDS+12)); while [ $SECONDS -lt $end ]; do if [ "$(timeout 10 head -c 7 </dev/tcp/127.0.0.1/2223 2>/dev/null)" = SSH-2.0 ]; then ok=$((ok+1)); else bad=$((bad+1)); fi; sleep 0.05; done; echo "ok=$ok bad=$bad") & sleep 3; systemctl restart ctr-activator; sleep 3; systemctl kill -s KILL ctr-activator; wait; systemctl list-units --no-legend --plain "ctr-nspawn-*.scope"`,
      120_000,
    )
    console.log(`client loop through systemctl restart and systemctl kill -s KILL: ${loop.stdout.trim()}`)
    expect(loop.stdout, await journal()).toMatch(/ok=[1-9]\d* bad=0\nctr-nspawn-\d+\.scope\s+loaded active running/)
    const status = await host.sh('ctr ls --json')
    expect(status.stdout).toMatch(/"state": "running"/)
  })

  it('the pair ctr generate units writes, installed and started, wakes the container on an ssh connection, with systemd alone', async () => {
    const made = await host.sh('ctr create debian seed --network host && ctr expose 2224 ssh -c seed && ctr generate units seed --dir /etc/systemd/system && systemctl daemon-reload && systemctl start seed.socket && systemctl is-active seed.service; true')
    expect(made.exitCode, made.stderr).toBe(0)
    // Started by the socket only: the container is off until the connection.
    expect(made.stdout.trim().split('\n').pop()).toBe('inactive')
    const login = await host.sh('ssh -o StrictHostKeyChecking=accept-new -o BatchMode=yes -p 2224 root@127.0.0.1 hostname; systemctl is-active seed.service; machinectl list --no-legend', 120_000)
    expect(login.stdout, login.stderr).toMatch(/^seed\nactive\n/)
    expect(login.stdout).toMatch(/^seed\s+container\s+systemd-nspawn/m)
    const stopped = await host.sh('systemctl stop seed.service seed.socket && systemctl is-active seed.service; true')
    expect(stopped.stdout.trim()).toBe('inactive')
  })

  it('after a reboot of the systemd host the enabled unit holds the ports again: a connection wakes the container, no ctr command run', async () => {
    // /run is a tmpfs of each boot: the mark is gone once the host has really booted again.
    const held = await host.sh('ctr create debian boot --network host --ssh-port 2225 && ctr start boot && touch /run/ctr-test-mark')
    expect(held.exitCode, held.stderr).toBe(0)
    // The session into the host ends with it.
    await host.sh('systemctl reboot').catch(() => undefined)
    let state = ''
    for (let tries = 0; tries < 240 && !/^(running|degraded)$/.test(state); tries++) {
      await new Promise((resolve) => setTimeout(resolve, 500))
      state = (await host.sh('systemctl is-system-running 2>/dev/null').catch(() => ({stdout: ''}))).stdout.trim()
    }
    expect(state).toMatch(/^(running|degraded)$/)
    const woken = await host.sh('test ! -e /run/ctr-test-mark && systemctl is-active ctr-activator; timeout 60 head -c 7 </dev/tcp/127.0.0.1/2225; echo; machinectl list --no-legend', 120_000)
    expect(woken.stdout, `${woken.stderr}\n${(await host.sh('journalctl -b -u ctr-activator --no-pager -o cat')).stdout}`).toMatch(/^active\nSSH-2\.0\n/)
    expect(woken.stdout).toMatch(/^boot\s+container\s+systemd-nspawn/m)
  })
})
