/**
 * A live progress bar on stderr (ink) while a long step runs, e.g. debootstrap. Off a terminal it
 * prints one line per tenth instead, so logs of CI runs still show progress.
 */
import {Box, Text, render} from 'ink'
import React from 'react'

export interface ProgressView {
  update(fraction: number, label: string): void
  done(): void
}

export function ProgressBar({title, fraction, label, width = 30}: {title: string; fraction: number; label: string; width?: number}) {
  const filled = Math.round(Math.max(0, Math.min(1, fraction)) * width)
  return (
    <Box>
      <Text>
        {title} [{'#'.repeat(filled)}
        {'-'.repeat(width - filled)}] {String(Math.floor(fraction * 100)).padStart(3)}%{' '}
      </Text>
      <Text dimColor wrap="truncate-end">
        {label}
      </Text>
    </Box>
  )
}

export function startProgress(title: string, stream: NodeJS.WriteStream = process.stderr): ProgressView {
  if (!stream.isTTY) {
    let lastTenth = -1
    return {
      update(fraction, label) {
        const tenth = Math.floor(fraction * 10)
        if (tenth > lastTenth) {
          lastTenth = tenth
          stream.write(`${title}: ${tenth * 10}% ${label}\n`)
        }
      },
      done() {},
    }
  }
  const instance = render(<ProgressBar title={title} fraction={0} label="starting" />, {stdout: stream, patchConsole: false, exitOnCtrlC: false})
  let last = 0
  return {
    update(fraction, label) {
      // ink redraws on every rerender; ~20 frames a second is plenty for a bar.
      const now = Date.now()
      if (now - last < 50 && fraction < 1) return
      last = now
      instance.rerender(<ProgressBar title={title} fraction={fraction} label={label} />)
    },
    done() {
      instance.unmount()
    },
  }
}
