import {Args, Flags} from '@oclif/core'
import {CtrCommand} from '../src/cli/base-command.js'
import {cpusFlag, idleTimeoutFlag, memoryFlag, pidsFlag} from '../src/cli/flags.js'
import {createContainer, type CreateReport} from '../src/containers/create.js'
import {parsePortSpec} from '../src/containers/ports.js'
import type {ProgressView} from '../src/ui/progress-bar.js'

export default class Create extends CtrCommand {
  static summary = 'Create a container from a cached base tree (bootstrapping the base the first time).'
  static description = `The first create of a distro and release bootstraps a base tree (debootstrap, about a minute); later creates reuse it and take a second or two: the container is an overlay of the base (or a copy with --copy) with its own machine id, hostname, SSH host keys and root's authorized keys, and sshd set up to be started by socket activation.`
  static examples = [
    {description: 'A Debian bookworm container named web1', command: '<%= config.bin %> create debian web1'},
    {description: 'Trixie, with an extra package and a given key', command: '<%= config.bin %> create debian dev --release trixie --packages git --ssh-key ~/.ssh/id_ed25519.pub'},
    {description: 'With sshd socket-activated on port 2222 from the start', command: '<%= config.bin %> create debian web2 --ssh-port 2222'},
    {description: 'Isolated: loopback only, user IDs of its own, 512 MiB', command: '<%= config.bin %> create debian shop --ssh-port 2223 --network private --private-users --memory 512M'},
  ]

  static args = {
    distro: Args.string({description: 'distro to create (ctr create --help lists them: debian, fedora)', required: true}),
    name: Args.string({description: 'container name: [a-z0-9][a-z0-9-]{0,62} (default: DISTRO-N)'}),
  }

  static flags = {
    release: Flags.string({description: 'distro release [default: the recipe\'s, bookworm for debian]'}),
    mirror: Flags.string({description: 'package mirror URL'}),
    'ssh-key': Flags.string({description: 'public key file for root (repeatable) [default: ~/.ssh/*.pub of the invoking user]', multiple: true}),
    packages: Flags.string({description: 'extra packages, comma-separated (installed once into a package layer shared by every container asking for the same set; with --copy, a base bootstrapped with them)'}),
    copy: Flags.boolean({description: 'copy the base tree instead of an overlay on it'}),
    profile: Flags.string({description: 'boot profile: lean (socket-activated services only) or full (the distro\'s whole boot)'}),
    'idle-timeout': idleTimeoutFlag({description: 'power off after this many seconds without a connection (0 = never, at most 30 days)'}),
    network: Flags.string({description: 'veth (the default, or CTR_NETWORK\'s: an address of its own from CTR_VETH_RANGE, out through NAT, nothing in but its ports), private (loopback only; the exposed ports still come in) or host (the host\'s network)', options: ['host', 'private', 'veth']}),
    'private-users': Flags.boolean({description: 'user IDs of its own: root inside is an unprivileged UID range on the host, kept in its record (the base stays shared: idmapped, never chowned)'}),
    memory: memoryFlag({description: 'memory limit, e.g. 256M or 2G (swap included); past it, the kernel OOM-kills inside the container only'}),
    pids: pidsFlag({description: 'most processes and threads at once'}),
    cpus: cpusFlag({description: 'CPU time it may use, in CPUs (0.5: half of one; a CFS quota on its cgroup)'}),
    'bind-ro': Flags.string({description: 'bind a host path read-only at every boot: HOST[:INSIDE] (repeatable; INSIDE defaults to HOST)', multiple: true}),
    capability: Flags.string({description: 'a capability nspawn keeps beyond its defaults, e.g. CAP_NET_ADMIN (repeatable; for nested test beds)', multiple: true}),
    'system-call-filter': Flags.string({description: 'a system call nspawn allows beyond its filter, e.g. pidfd_getfd (repeatable; for nested test beds)', multiple: true}),
    bind: Flags.string({description: 'bind a host path read-write at every boot: HOST[:INSIDE] (repeatable)', multiple: true}),
    'ssh-port': Flags.string({description: 'expose sshd on [ADDRESS:]PORT from the start (as ctr expose PORT ssh)'}),
  }

  async run(): Promise<CreateReport> {
    const {args, flags, root} = await this.parseCommon(Create)
    // The progress bar (ink) is loaded only when a bootstrap starts: a warm create stays fast.
    let bar: ProgressView | undefined
    let barLoading: Promise<void> | undefined
    try {
      const report = await createContainer(
        root,
        {
          distro: args.distro,
          name: args.name,
          release: flags.release,
          mirror: flags.mirror,
          sshKeyFiles: flags['ssh-key'],
          packages: flags.packages?.split(',').map((p) => p.trim()).filter(Boolean),
          copy: flags.copy,
          profile: flags.profile,
          idleTimeoutSec: flags['idle-timeout'],
          memoryBytes: flags.memory,
          network: flags.network as 'host' | 'private' | 'veth' | undefined,
          privateUsers: flags['private-users'],
          pids: flags.pids,
          cpus: flags.cpus,
          bindsReadOnly: flags['bind-ro'],
          bindsReadWrite: flags.bind,
          capabilities: flags.capability,
          systemCalls: flags['system-call-filter'],
          ports: flags['ssh-port'] ? [{...parsePortSpec(flags['ssh-port']), service: 'ssh'}] : undefined,
        },
        {
          signal: this.interruptSignal(),
          onPhase: (phase) => {
            if ((phase === 'bootstrap' || phase === 'packages') && !this.jsonEnabled()) {
              const previous = barLoading ?? Promise.resolve()
              barLoading = previous.then(() =>
                import('../src/ui/progress-bar.js').then((m) => {
                  bar?.done()
                  bar = m.startProgress(phase === 'bootstrap' ? `bootstrapping ${args.distro}` : 'installing packages')
                }),
              )
            }
            if (phase === 'customize') bar?.done()
          },
          onProgress: (p) => bar?.update(p.fraction, p.label),
        },
      )
      const c = report.container
      if (report.mirrorIgnored && !this.jsonEnabled()) {
        const from = report.baseImportedFrom ? `imported from ${report.baseImportedFrom}` : `bootstrapped from ${report.baseMirror}`
        process.stderr.write(`ctr: warning: --mirror had no effect: the cached base ${c.image} was used (${from})\n`)
        process.stderr.write(`  to bootstrap from ${flags.mirror}, remove that base first: ctr images rm ${c.image}\n`)
      }
      this.say(`created ${c.name} (${c.distro} ${c.release}, ${c.storage}, network ${c.network ?? 'host'}${c.address ? ` ${c.address}` : ''}) in ${report.seconds.toFixed(1)} s${report.bootstrapped ? ', base bootstrapped' : ''}`)
      if (report.authorizedKeys === 0) this.say('note: no SSH key was found for root; pass --ssh-key FILE to log in with ssh')
      if (c.ports.length === 0) this.say(`next: ctr expose PORT ssh -c ${c.name} && ctr start ${c.name}`)
      return report
    } finally {
      await barLoading?.catch(() => {})
      bar?.done()
    }
  }
}
