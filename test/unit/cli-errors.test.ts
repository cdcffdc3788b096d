/**
 * The CLI's error mapping: oclif's real parse errors (made by its real parser) become one line
 * with hints, errno errors one line about the path, batch items name themselves once.
 */
import {mkdir, writeFile} from 'node:fs/promises'
import {join} from 'node:path'
import {Args, Flags, Parser} from '@oclif/core'
import {describe, expect, it} from 'vitest'
import {toCtrError} from '../../src/cli/base-command.js'
import {itemErrorText} from '../../src/cli/batch.js'
import {errnoError} from '../../src/cli/errno-errors.js'
import {idleTimeoutFlag, linesFlag, MAX_IDLE_TIMEOUT_SEC, parseIdleTimeout} from '../../src/cli/flags.js'
import {checkOutputFile} from '../../src/cli/output-file.js'
import {isParseError, usageError} from '../../src/cli/parse-errors.js'
import {namedMessage} from '../../src/containers/lifecycle.js'
import {CtrError} from '../../src/errors.js'
import {useTempDirs} from '../helpers/temp.js'

const updateInput = {
  args: {name: Args.string({description: 'container name', required: true})},
  flags: {
    'idle-timeout': idleTimeoutFlag({description: 'seconds'}),
    lines: linesFlag({description: 'lines', default: 50}),
    count: Flags.integer({description: 'an oclif integer flag', min: 0}),
    distro: Flags.string({description: 'a required flag'}),
    stop: Flags.boolean({exclusive: ['unit']}),
    unit: Flags.boolean(),
  },
  strict: true,
}

/** The error oclif's own parser throws for ARGV, mapped as the CLI maps it. */
async function parseFailure(argv: string[], input: object = updateInput): Promise<CtrError> {
  const error = await Parser.parse(argv, input).then(
    () => undefined,
    (e: Error) => e,
  )
  expect(error, `ctr update ${argv.join(' ')} should not parse`).toBeInstanceOf(Error)
  expect(isParseError(error)).toBe(true)
  return toCtrError(error as Error, 'update', () => 'ctr update NAME [FLAGS]')
}

function expectOneLine(error: CtrError): void {
  expect(error.code).toBe('INVALID_ARGUMENT')
  expect(error.exitCode).toBe(2)
  expect(error.message).not.toMatch(/\n/)
  expect(error.message).not.toMatch(/See more help|\u001B\[/)
  expect(error.hints).toEqual(['usage: ctr update NAME [FLAGS]', 'see: ctr update --help'])
}

describe('oclif parse errors as one line', () => {
  it('--idle-timeout -5, abc, and a value past 30 days', async () => {
    for (const [value, message] of [
      ['-5', `--idle-timeout must be 0 to ${MAX_IDLE_TIMEOUT_SEC} seconds (0 = never; at most 30 days), not -5`],
      ['abc', "--idle-timeout must be a whole number of seconds (0 = never; at most 30 days), not 'abc'"],
      ['99999999999999999999', `--idle-timeout must be 0 to ${MAX_IDLE_TIMEOUT_SEC} seconds (0 = never; at most 30 days), not 99999999999999999999`],
      ['2592001', `--idle-timeout must be 0 to ${MAX_IDLE_TIMEOUT_SEC} seconds (0 = never; at most 30 days), not 2592001`],
      ['1e3', "--idle-timeout must be a whole number of seconds (0 = never; at most 30 days), not '1e3'"],
    ]) {
      const error = await parseFailure(['web1', '--idle-timeout', value])
      expectOneLine(error)
      expect(error.message).toBe(message)
    }
  })

  it('accepts 0 and 30 days', async () => {
    expect(parseIdleTimeout('0')).toBe(0)
    expect(parseIdleTimeout(String(MAX_IDLE_TIMEOUT_SEC))).toBe(2_592_000)
    const parsed = await Parser.parse(['web1', '--idle-timeout', '300', '-n', '7'], updateInput)
    expect(parsed.flags['idle-timeout']).toBe(300)
    expect(parsed.flags.lines).toBe(7)
  })

  it('-n abc', async () => {
    const error = await parseFailure(['web1', '-n', 'abc'])
    expectOneLine(error)
    expect(error.message).toBe("--lines (-n) must be a whole number of lines, not 'abc'")
  })

  it("oclif's own integer flag", async () => {
    const error = await parseFailure(['web1', '--count', 'x'])
    expectOneLine(error)
    expect(error.message).toBe("--count must be a whole number, not 'x'")
  })

  it('an unknown flag', async () => {
    const error = await parseFailure(['web1', '-x'])
    expectOneLine(error)
    expect(error.message).toBe('ctr update has no flag -x')
  })

  it('a missing argument', async () => {
    const error = await parseFailure([])
    expectOneLine(error)
    expect(error.message).toBe('missing NAME: container name')
  })

  it('too many arguments', async () => {
    const error = await parseFailure(['web1', 'web2', "it's"])
    expectOneLine(error)
    expect(error.message).toBe("too many arguments: web2 'it'\\''s'")
  })

  it('a flag without its value, a flag given twice', async () => {
    expect((await parseFailure(['web1', '--idle-timeout'])).message).toBe('--idle-timeout needs a value')
    expect((await parseFailure(['web1', '--idle-timeout', '1', '--idle-timeout', '2'])).message).toBe('--idle-timeout is given more than once')
  })

  it('a required flag, exclusive flags', async () => {
    const required = {...updateInput, flags: {...updateInput.flags, distro: Flags.string({required: true})}}
    const missing = await parseFailure(['web1'], required)
    expectOneLine(missing)
    expect(missing.message).toBe('--distro is required')
    const both = await parseFailure(['web1', '--stop', '--unit'])
    expectOneLine(both)
    expect(both.message).toBe('--stop and --unit do not go together')
  })

  it('keeps CtrErrors and ExitErrors apart from parse errors', () => {
    expect(isParseError(new CtrError('NOT_FOUND', 'no container named x'))).toBe(false)
    expect(isParseError(new Error('plain'))).toBe(false)
    const usage = usageError(Object.assign(new Error('Something odd\nsecond line\nSee more help with --help'), {oclif: {exit: 2}}), 'ls')
    expect(usage.message).toBe('something odd')
    expect(usage.hints).toEqual(['see: ctr ls --help'])
  })
})

describe('errno errors as one line', () => {
  const errno = (code: string, extra: object) => Object.assign(new Error(`${code}: raw node message`), {code, ...extra})

  it('EISDIR of a rename names its target, ENOENT its path', () => {
    const isDir = errnoError(errno('EISDIR', {path: '/tmp.part', dest: '/tmp', syscall: 'rename'}), 'images export', true)
    expect(isDir.message).toBe('/tmp: is a directory')
    expect(isDir.code).toBe('INVALID_ARGUMENT')
    const missing = errnoError(errno('ENOENT', {path: '/missing/x.tar.part', syscall: 'open'}), 'images export', true)
    expect(missing.message).toBe('/missing/x.tar.part: no such file or directory')
  })

  it('EACCES says root is needed for a non-root user, and is a permission error for root', () => {
    const user = errnoError(errno('EACCES', {path: '/var/lib/ctr/containers'}), 'images', false)
    expect(user.code).toBe('NOT_ROOT')
    expect(user.message).toBe('ctr images needs root (/var/lib/ctr/containers: permission denied)')
    expect(user.hints).toEqual(['run it as root, e.g. with sudo'])
    expect(errnoError(errno('EACCES', {path: '/x'}), 'images', true).message).toBe('/x: permission denied')
  })

  it('ENOSPC, and an unknown code keeps its first line', () => {
    expect(errnoError(errno('ENOSPC', {path: '/r/tmp/x'}), 'create', true).code).toBe('NO_SPACE')
    const odd = Object.assign(new Error("EBUSY: resource busy or locked, rmdir '/x'\nmore"), {code: 'EBUSY'})
    expect(toCtrError(odd, 'rm', () => 'ctr rm NAME...').message).toBe("EBUSY: resource busy or locked, rmdir '/x'")
  })
})

describe('batch items', () => {
  it('name the item once', () => {
    expect(namedMessage('p1', 'p1 is running (systemd-nspawn pid 5)')).toBe('p1 is running (systemd-nspawn pid 5)')
    expect(namedMessage('p1', 'no container named p1')).toBe('no container named p1')
    expect(namedMessage('p1', 'the activator did not come up within 15 s')).toBe('p1: the activator did not come up within 15 s')
    // p1 inside another name is not p1.
    expect(namedMessage('p1', 'p1-old is running')).toBe('p1: p1-old is running')
    expect(namedMessage('a.b', 'axb is running')).toBe('a.b: axb is running')
    expect(itemErrorText('p1', {message: 'p1 is running', hints: ['stop it first: ctr stop p1']})).toBe('ctr: p1 is running\n  stop it first: ctr stop p1\n')
  })
})

describe('an output file', () => {
  const tempDir = useTempDirs()
  const retry = (file: string) => `ctr images export debian-bookworm -o ${file}`
  const options = {flag: '-o', suggested: 'debian-bookworm.tar.gz', retry}

  it('refuses a directory and a missing directory, takes a new or existing file', async () => {
    const dir = await tempDir()
    await expect(checkOutputFile(dir, options)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: `-o ${dir} is a directory; it takes a file name`,
      hints: [`e.g. ${retry(join(dir, 'debian-bookworm.tar.gz'))}`],
    })
    await expect(checkOutputFile(join(dir, 'missing/x.tar'), options)).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: `-o ${join(dir, 'missing/x.tar')}: the directory ${join(dir, 'missing')} does not exist`,
    })
    await writeFile(join(dir, 'file'), '')
    await expect(checkOutputFile(join(dir, 'file/x.tar'), options)).rejects.toMatchObject({message: `-o ${join(dir, 'file/x.tar')}: ${join(dir, 'file')} is not a directory`})
    await mkdir(join(dir, 'out'))
    await expect(checkOutputFile(join(dir, 'out/x.tar'), options)).resolves.toBeUndefined()
    await expect(checkOutputFile(join(dir, 'file'), options)).resolves.toBeUndefined()
  })
})
