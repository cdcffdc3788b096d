import {describe, expect, it} from 'vitest'
import {validateImageId, validateMirror, validateName, validatePackages, validateRelease} from '../../src/names.js'
import {assertUnderRoot, containerPaths, imagePaths} from '../../src/store/paths.js'

const debian = {name: 'debian', releases: ['bookworm', 'trixie']}

describe('names that reach a path or an argv', () => {
  it.each(['a-', 'web-', '-', 'a--'.slice(0, 2)])('a container name may not end in "-": %j', (name) => {
    expect(() => validateName(name)).toThrow(expect.objectContaining({code: 'INVALID_NAME'}))
  })
  it('accepts the releases of the recipe, and plain other ones only where asked', () => {
    expect(validateRelease(debian, 'bookworm', {known: true})).toBe('bookworm')
    expect(validateRelease(debian, 'forky')).toBe('forky')
    expect(() => validateRelease(debian, 'forky', {known: true})).toThrow(expect.objectContaining({code: 'INVALID_ARGUMENT'}))
  })
  it.each(['x/../../../victim', '..', '.', '../x', 'a/b', '-x', '--include=evil', 'a..b', '', 'Bookworm', 'a b', 'x\0'])('refuses the release %j', (release) => {
    expect(() => validateRelease(debian, release)).toThrow(expect.objectContaining({code: 'INVALID_ARGUMENT', exitCode: 2}))
  })
  it.each(['../../victim', '..', '.x', 'a/b', '', '-rf'])('refuses the image id %j', (id) => {
    expect(() => validateImageId(id)).toThrow(expect.objectContaining({code: 'INVALID_ARGUMENT'}))
  })
  it('accepts package names of Debian and Fedora, refuses options and shell', () => {
    expect(validatePackages(['git', 'libc6-dev', 'g++', 'python3.11', 'NetworkManager', 'perl_x'])).toHaveLength(6)
    for (const bad of ['--foo', 'a;b', 'a b', '../x', '', '-y'])
      expect(() => validatePackages([bad])).toThrow(expect.objectContaining({code: 'INVALID_ARGUMENT'}))
  })
  it('accepts http(s) and file mirrors only', () => {
    expect(validateMirror('http://127.0.0.1:1/')).toBe('http://127.0.0.1:1/')
    for (const bad of ['--keyring=/x', 'ftp://x', 'not a url', '/srv/mirror'])
      expect(() => validateMirror(bad)).toThrow(expect.objectContaining({code: 'INVALID_ARGUMENT'}))
  })
})

describe('paths under the state root', () => {
  it('lets through what lies below the root', () => {
    expect(assertUnderRoot('/srv/ctr', '/srv/ctr/images/x')).toBe('/srv/ctr/images/x')
  })
  it.each(['/srv/ctr', '/srv/ctr/..', '/srv/ctr/../victim', '/srv/ctr-other/x', '/etc'])('refuses %j', (path) => {
    expect(() => assertUnderRoot('/srv/ctr', path)).toThrow(expect.objectContaining({code: 'UNSAFE_PATH'}))
  })
  it('refuses names and ids that are not one plain component', () => {
    for (const bad of ['..', '.', 'a/../../x', '', 'x/y']) {
      expect(() => containerPaths('/srv/ctr', bad)).toThrow(expect.objectContaining({code: 'UNSAFE_PATH'}))
      expect(() => imagePaths('/srv/ctr', bad)).toThrow(expect.objectContaining({code: 'UNSAFE_PATH'}))
    }
  })
})
