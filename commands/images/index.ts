import {CtrCommand} from '../../src/cli/base-command.js'
import {listImages, type ImageListing} from '../../src/rootfs/images.js'
import {formatColumns} from '../../src/cli/format.js'
import {formatBytes} from '../../src/ui/format.js'

export default class Images extends CtrCommand {
  static summary = 'List the cached base trees containers are made from.'
  static examples = ['<%= config.bin %> images', '<%= config.bin %> images --json']

  async run(): Promise<ImageListing[]> {
    const {root} = await this.parseCommon(Images)
    const images = await listImages(root)
    this.say(
      formatColumns(
        ['IMAGE', 'DISTRO', 'RELEASE', 'SIZE', 'CREATED', 'USED BY'],
        images.map((i) => [i.id, i.distro, i.release, formatBytes(i.sizeBytes), i.createdAt.slice(0, 19).replace('T', ' '), i.usedBy.join(',') || '-']),
      ),
    )
    return images
  }
}
