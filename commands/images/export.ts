import {Args, Flags} from '@oclif/core'
import {CtrCommand} from '../../src/cli/base-command.js'
import {checkOutputFile} from '../../src/cli/output-file.js'
import {CtrError} from '../../src/errors.js'
import {exportImage, gzipFor, type ExportReport} from '../../src/rootfs/image-archive.js'
import type {ProgressView} from '../../src/ui/progress-bar.js'

export default class ImagesExport extends CtrCommand {
  static summary = 'Write a cached base tree as a tar archive, to move it to another machine.'
  static description = `The archive holds the tree with its owners, modes and links (not device nodes, which nspawn provides, nor extended attributes). A name ending in .gz or .tgz is gzipped. ctr images import makes a base from it again.`
  static examples = [
    {description: 'To a file', command: '<%= config.bin %> images export debian-bookworm -o debian-bookworm.tar.gz'},
    {description: 'Straight to another host', command: '<%= config.bin %> images export debian-bookworm | ssh other ctr images import - --distro debian'},
  ]

  static args = {image: Args.string({description: 'image id, as ctr images shows it', required: true})}
  static flags = {
    output: Flags.string({char: 'o', description: 'file to write (default: standard output, which must not be a terminal)'}),
  }

  async run(): Promise<ExportReport> {
    const {args, flags, root} = await this.parseCommon(ImagesExport)
    const output = flags.output && flags.output !== '-' ? flags.output : undefined
    if (!output && process.stdout.isTTY) {
      throw new CtrError('INVALID_ARGUMENT', 'will not write a tar archive to a terminal', {hints: [`ctr images export ${args.image} -o FILE, or pipe it`]})
    }
    if (!output && this.jsonEnabled()) {
      throw new CtrError('INVALID_ARGUMENT', '--json reports on stdout, so the archive needs -o FILE', {hints: [`ctr images export ${args.image} -o FILE --json`]})
    }
    if (output) {
      await checkOutputFile(output, {flag: '-o', suggested: `${args.image}.tar.gz`, retry: (file) => `ctr images export ${args.image} -o ${file}`})
    }
    let bar: ProgressView | undefined
    if (process.stderr.isTTY) bar = (await import('../../src/ui/progress-bar.js')).startProgress(`exporting ${args.image}`)
    let report: ExportReport
    try {
      report = await exportImage(root, args.image, output ?? process.stdout, {
        gzip: output ? gzipFor(output) : false,
        onProgress: (p) => bar?.update(p.fraction, p.label),
        signal: this.interruptSignal(),
      })
    } finally {
      bar?.done()
    }
    if (output) this.say(`wrote ${report.id} to ${report.output} (${(report.bytes / 1e6).toFixed(0)} MB)`)
    return report
  }
}
