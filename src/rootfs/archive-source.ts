/**
 * Where an archive for `ctr images import` comes from: a file, an http(s) URL (got), or standard
 * input; with its size when known (for progress), and got's failures as one DOWNLOAD_FAILED line.
 */
import {createReadStream, type Stats} from 'node:fs'
import {stat} from 'node:fs/promises'
import type {Readable} from 'node:stream'
import {CtrError, errnoCode} from '../errors.js'

export async function openSource(source: string, signal?: AbortSignal): Promise<{stream: Readable; total?: number}> {
  if (source === '-') return {stream: process.stdin}
  if (/^https?:\/\//.test(source)) {
    const {default: got} = await import('got')
    const stream = got.stream(source, {signal, retry: {limit: 0}, timeout: {connect: 15_000, response: 30_000}})
    // The size is known once the response starts; a failure before that is the request's.
    const total = await new Promise<number | undefined>((resolve, reject) => {
      stream.once('response', (response: {headers: Record<string, string | undefined>}) => {
        const length = Number(response.headers['content-length'])
        resolve(Number.isFinite(length) && length > 0 ? length : undefined)
      })
      stream.once('error', (error) => reject(downloadError(source, error)))
    })
    return {stream, total}
  }
  let info: Stats
  try {
    info = await stat(source)
  } catch (error) {
    if (errnoCode(error) === 'ENOENT') throw new CtrError('NOT_FOUND', `no such file: ${source}`, {hints: ['give a tar archive: a path, or an http(s) URL']})
    throw error
  }
  if (!info.isFile()) throw new CtrError('INVALID_ARGUMENT', `${source} is not a file`, {hints: ['give a tar archive: a path, or an http(s) URL']})
  return {stream: createReadStream(source), total: info.size}
}

export function downloadError(source: string, error: unknown): CtrError {
  const e = error as {code?: string; message?: string; response?: {statusCode?: number; statusMessage?: string}}
  if (e.response?.statusCode) {
    return new CtrError('DOWNLOAD_FAILED', `${source} answered ${e.response.statusCode} ${e.response.statusMessage ?? ''}`.trimEnd(), {hints: ['check the URL']})
  }
  return new CtrError('DOWNLOAD_FAILED', `cannot download ${source}: ${e.code ?? e.message ?? String(error)}`, {
    hints: ['check the URL, and that this host reaches it (or download it elsewhere and import the file)'],
    cause: error,
  })
}

/** got's errors (a request that failed, an HTTP status, a timeout, a body cut short). */
export function isDownloadError(error: unknown): boolean {
  const name = (error as {name?: string})?.name
  return name === 'RequestError' || name === 'HTTPError' || name === 'TimeoutError' || name === 'ReadError'
}
