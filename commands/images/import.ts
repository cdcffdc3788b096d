import {Args, Flags} from '@oclif/core'
import {CtrCommand} from '../../src/cli/base-command.js'
import {importImage} from '../../src/rootfs/image-archive.js'
import type {ImageRecord} from '../../src/rootfs/images.js'
import type {ProgressView} from '../../src/ui/progress-bar.js'

export default class ImagesImport extends CtrCommand {
  static summary = 'Make a base tree from a tar archive (a file, an http(s) URL, or - for standard input).'
  static description = `The archive is a root filesystem with systemd and sshd in it: one written by ctr images export, or a distro's published root filesystem tarball (plain or gzip). It becomes the base of DISTRO and RELEASE, so ctr create uses it instead of bootstrapping: this is how a distro whose mirrors this host cannot reach gets containers. The base is made in ROOT/tmp and kept only when complete.`
  static examples = [
    {description: 'A base exported on another machine', command: '<%= config.bin %> images import debian-bookworm.tar.gz --distro debian'},
    {description: 'Fedora, from a rootfs tarball fetched over http', command: '<%= config.bin %> images import https://example.org/fedora-40-rootfs.tar.gz --distro fedora --release 40'},
  ]

  static args = {source: Args.string({description: 'tar archive: path, http(s) URL, or -', required: true})}
  static flags = {
    distro: Flags.string({description: 'distro of the tree (ctr create DISTRO uses it)', required: true}),
    release: Flags.string({description: "its release (default: the distro's default)"}),
  }

  async run(): Promise<ImageRecord> {
    const {args, flags, root} = await this.parseCommon(ImagesImport)
    let bar: ProgressView | undefined
    if (process.stderr.isTTY && !this.jsonEnabled()) bar = (await import('../../src/ui/progress-bar.js')).startProgress('importing')
    let image: ImageRecord
    try {
      image = await importImage(root, {source: args.source, distro: flags.distro, release: flags.release}, {
        onProgress: (p) => bar?.update(p.fraction, p.label),
        signal: this.interruptSignal(),
      })
    } finally {
      bar?.done()
    }
    this.say(`imported ${image.id} (${(image.sizeBytes / 1e6).toFixed(0)} MB); ctr create ${image.distro}${flags.release ? ` --release ${image.release}` : ''} NAME uses it`)
    return image
  }
}
