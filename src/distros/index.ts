/** The distros ctr knows: a recipe in rootfs-recipes/distros plus a module here. */
import {CtrError} from '../errors.js'
import {readRecipes} from '../recipes/load.js'
import {debianDistro} from './debian.js'
import {fedoraDistro} from './fedora.js'
import type {Distro, DistroRecipe} from './types.js'

const MODULES: Record<string, (recipe: DistroRecipe) => Distro> = {
  debootstrap: debianDistro,
  dnf: fedoraDistro,
}

export function knownDistros(): Distro[] {
  return readRecipes<DistroRecipe>('distros').map((recipe) => {
    const make = MODULES[recipe.tool]
    if (!make) throw new Error(`recipe ${recipe.name}: no module for tool ${recipe.tool}`)
    return make(recipe)
  })
}

export function getDistro(name: string): Distro {
  const distros = knownDistros()
  const distro = distros.find((d) => d.recipe.name === name)
  if (!distro) {
    throw new CtrError('UNKNOWN_DISTRO', `unknown distro ${JSON.stringify(name)}`, {
      hints: [`known distros: ${distros.map((d) => d.recipe.name).join(', ')}`],
    })
  }
  return distro
}
