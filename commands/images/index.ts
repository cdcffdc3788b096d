import {CtrCommand} from '../../src/cli/base-command.js'
import {listImages, type ImageListing} from '../../src/rootfs/images.js'
import {formatColumns} from '../../src/cli/format.js'
import {formatBytes} from '../../src/ui/format.js'

export default class Images extends CtrCommand {
  static summary = 'List the cached base trees containers are made from, and the package layers on them.'
  static description = 'A package layer (IMAGE BASE+HASH) holds only the packages of a set of services, installed over its base; containers with those services stand on it. SIZE is what each one takes itself.'
  static examples = ['<%= config.bin %> images', '<%= config.bin %> images --json']

  async run(): Promise<ImageListing[]> {
    const {root} = await this.parseCommon(Images)
    const images = await listImages(root)
    this.say(
      formatColumns(
        ['IMAGE', 'DISTRO', 'RELEASE', 'SIZE', 'CREATED', 'ADDS', 'USED BY'],
        images.map((i) => [
          i.id,
          i.distro,
          i.release,
          formatBytes(i.sizeBytes),
          i.createdAt.slice(0, 19).replace('T', ' '),
          i.parent ? (i.packages ?? []).join(',') : '-',
          [...i.usedBy, ...i.layers.map((l) => `layer ${l}`)].join(',') || '-',
        ]),
      ),
    )
    return images
  }
}
