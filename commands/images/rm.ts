import {Args} from '@oclif/core'
import {CtrCommand} from '../../src/cli/base-command.js'
import {removeImage, type ImageRecord} from '../../src/rootfs/images.js'

export default class ImagesRm extends CtrCommand {
  static summary = 'Remove a cached base tree that no container uses.'
  static examples = ['<%= config.bin %> images rm debian-bookworm']
  static args = {image: Args.string({description: 'image id, as ctr images shows it', required: true})}

  async run(): Promise<ImageRecord> {
    const {args, root} = await this.parseCommon(ImagesRm)
    const image = await removeImage(root, args.image)
    this.say(`removed image ${image.id}`)
    return image
  }
}
