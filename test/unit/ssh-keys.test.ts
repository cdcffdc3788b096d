import {mkdir, mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {afterEach, beforeEach, describe, expect, it} from 'vitest'
import {authorizedKeys, invokingHome} from '../../src/containers/ssh-keys.js'

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb2n0Ym2sFv1gmXbKZb4Yy0q0mR8cS1n9yZ4hRk9v1B me@host'
let home: string
beforeEach(async () => {
  home = await mkdtemp(join(tmpdir(), 'ctr-home-'))
})
afterEach(() => rm(home, {recursive: true, force: true}))

describe('authorized keys', () => {
  it('defaults to ~/.ssh/*.pub of the invoking user, none if there are none', async () => {
    expect(await authorizedKeys(undefined, home)).toEqual([])
    await mkdir(join(home, '.ssh'))
    await writeFile(join(home, '.ssh/id_ed25519.pub'), `${KEY}\n`)
    await writeFile(join(home, '.ssh/id_ed25519'), 'PRIVATE')
    expect(await authorizedKeys(undefined, home)).toEqual([KEY])
  })

  it('refuses a missing file or a private key, with a hint', async () => {
    await expect(authorizedKeys([join(home, 'nope.pub')])).rejects.toMatchObject({code: 'INVALID_ARGUMENT'})
    await writeFile(join(home, 'id'), '-----BEGIN OPENSSH PRIVATE KEY-----\n')
    await expect(authorizedKeys([join(home, 'id')])).rejects.toMatchObject({code: 'INVALID_ARGUMENT', hints: ['give the .pub file, not the private key']})
  })

  it('under sudo, looks in the home of the user who ran sudo', () => {
    expect(invokingHome({SUDO_USER: 'alice', HOME: '/root'})).toBe('/home/alice')
    expect(invokingHome({HOME: '/root'})).toBe('/root')
  })
})
