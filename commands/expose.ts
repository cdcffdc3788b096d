import {Args, Flags} from '@oclif/core'
import {CtrCommand} from '../src/cli/base-command.js'
import {exposePort, type ExposeReport} from '../src/containers/expose.js'
import {describeExposure} from '../src/store/containers.js'
import type {ProgressView} from '../src/ui/progress-bar.js'
import {serviceCatalogue} from '../src/units/services.js'

export default class Expose extends CtrCommand {
  static summary = 'Expose a service of a container on a host port; the first connection boots the container.'
  static description = `Writes the service's socket unit into the container (enabled, so its systemd adopts the port the activator hands over) and records that the container owns ADDRESS:PORT. Without ADDRESS the port is bound on :: dual-stack (IPv4 and IPv6). A started container's port is held at once.

Services: ${serviceCatalogue()
    .map((s) => `${s.name} (${s.description})`)
    .join('; ')}.

Packages a service needs that the container lacks are installed first, without booting it, into a package layer shared by every container of the same base and packages (built once, then reused in a second). The container must be off: a running one is refused (ctr stop --hold NAME, then expose).`
  static examples = [
    {description: 'sshd of the only container on port 2222', command: '<%= config.bin %> expose 2222 ssh'},
    {description: 'A web site: lighttpd on port 8080 serving a host directory, read-only', command: '<%= config.bin %> expose 8080 http -c web1 --docroot /srv/sites/web1'},
    {description: 'MariaDB on port 3307, with the admin user\'s password from a file', command: '<%= config.bin %> expose 3307 mariadb -c web1 --password-file /root/web1.pw'},
    {description: 'sshd of web1 on 127.0.0.1 only', command: '<%= config.bin %> expose 127.0.0.1:2223 ssh -c web1'},
    {description: 'on an IPv6 address', command: '<%= config.bin %> expose [::1]:2224 ssh -c web1'},
  ]

  static args = {
    port: Args.string({description: '[ADDRESS:]PORT on the host, e.g. 2222, 127.0.0.1:2222, [::1]:2222', required: true}),
    service: Args.string({description: `service in the container (${serviceCatalogue()
      .map((s) => s.name)
      .join(', ')})`, required: true}),
  }

  static flags = {
    container: Flags.string({char: 'c', description: 'container name (may be left out when there is only one)'}),
    docroot: Flags.string({description: 'http: serve this host directory (bound read-only at every boot) instead of the placeholder page'}),
    'password-file': Flags.string({description: 'mariadb: the password of the remote user admin, first line of FILE [default: one is made and printed once]'}),
  }

  async run(): Promise<ExposeReport> {
    const {args, flags, root} = await this.parseCommon(Expose)
    // The progress bar (ink) is loaded only when packages are installed: a plain expose stays fast.
    let bar: ProgressView | undefined
    let barLoading: Promise<void> | undefined
    try {
      const report = await exposePort(
        root,
        {spec: args.port, service: args.service, container: flags.container, docroot: flags.docroot, passwordFile: flags['password-file']},
        {
          signal: this.interruptSignal(),
          onProgress: (p) => {
            if (!barLoading && !this.jsonEnabled()) {
              barLoading = import('../src/ui/progress-bar.js').then((m) => {
                bar = m.startProgress(`installing ${args.service} packages`)
              })
            }
            bar?.update(p.fraction, p.label)
          },
        },
      )
      await barLoading
      bar?.done()
      bar = undefined
      const what = `${report.container}: ${describeExposure(report.exposure)}`
      if (report.installed.length > 0) this.say(`installed ${report.installed.join(', ')} (package layer ${report.image})`)
      if (report.unchanged) this.say(`${what} was exposed already`)
      else this.say(`exposed ${what}${report.held ? ' (held now)' : ''}`)
      if (report.docroot) this.say(`serving ${report.docroot} (read-only)`)
      for (const warning of report.warnings ?? []) process.stderr.write(`ctr: warning: ${warning}\n`)
      if (report.adminPassword) {
        this.say(`${args.service} user admin, password: ${report.adminPassword}`)
        this.say('  (shown this once; ctr keeps only its hash in the container)')
      }
      return report
    } finally {
      await barLoading?.catch(() => {})
      bar?.done()
    }
  }
}
