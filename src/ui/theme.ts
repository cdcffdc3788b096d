/** Colours of the interactive view; every one is dropped when colour is off (NO_COLOR). */
import type {ContainerState} from '../status/types.js'

type Colour = 'green' | 'yellow' | 'cyan' | 'gray' | 'red'

const STATE_COLOUR: Record<ContainerState, Colour> = {
  running: 'green',
  booting: 'yellow',
  stopping: 'yellow',
  listening: 'cyan',
  stopped: 'gray',
  broken: 'red',
}

export function stateColour(state: ContainerState, color: boolean): Colour | undefined {
  return color ? STATE_COLOUR[state] : undefined
}

export function paint(colour: Colour, color: boolean): Colour | undefined {
  return color ? colour : undefined
}
