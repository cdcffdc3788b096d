/** One-line parts of the view: the activator banner, the filter and remove prompts, and an action's outcome. */
import {Box, Text} from 'ink'
import {paint} from './theme.js'
import type {Outcome, ViewMode} from './view-model.js'

export function ActivatorBanner({color}: {color: boolean}) {
  return (
    <Text wrap="truncate-end" color={paint('yellow', color)} bold={color}>
      ! activator down: states are from the store, not live (ctr start NAME)
    </Text>
  )
}

export function FetchErrorLine({message, color}: {message: string; color: boolean}) {
  return (
    <Text wrap="truncate-end" color={paint('red', color)}>
      ! cannot read the status: {message}
    </Text>
  )
}

/** The filter being typed, or the one in force; the removal question. Nothing in plain list mode. */
export function PromptLine({mode, filter, color}: {mode: ViewMode; filter: string; color: boolean}) {
  if (mode.kind === 'confirm-remove') {
    return (
      <Text wrap="truncate-end" color={paint('red', color)} bold={color}>
        remove {mode.name} and its files? [y/N]
      </Text>
    )
  }
  if (mode.kind === 'filter') return <Text wrap="truncate-end">/{filter}_</Text>
  if (filter) return <Text wrap="truncate-end">filter: {filter}</Text>
  return null
}

export function OutcomeLine({outcome, color}: {outcome?: Outcome; color: boolean}) {
  if (!outcome) return null
  if (outcome.kind === 'failed') {
    return (
      <Box flexDirection="column">
        <Text wrap="truncate-end" color={paint('red', color)}>
          ✗ {outcome.text}
        </Text>
        {outcome.hints.map((hint, i) => (
          <Text key={i} wrap="truncate-end" dimColor={color}>
            {'  '}
            {hint}
          </Text>
        ))}
      </Box>
    )
  }
  return (
    <Text wrap="truncate-end" color={paint(outcome.kind === 'done' ? 'green' : 'yellow', color)}>
      {outcome.kind === 'done' ? '✓' : '…'} {outcome.text}
    </Text>
  )
}

/** Lines the prompt and outcome take, so the view can size the table to the terminal. */
export function promptLines(mode: ViewMode, filter: string, outcome?: Outcome): number {
  const prompt = mode.kind === 'confirm-remove' || mode.kind === 'filter' || filter ? 1 : 0
  const said = outcome ? 1 + (outcome.kind === 'failed' ? outcome.hints.length : 0) : 0
  return prompt + said
}
