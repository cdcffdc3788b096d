import {describe, expect, it} from 'vitest'
import {classifyDebootstrapFailure, debootstrapProgress} from '../../src/distros/debian.js'
import {getDistro, knownDistros} from '../../src/distros/index.js'

describe('distro recipes', () => {
  it('knows debian and fedora', () => {
    expect(knownDistros().map((d) => d.recipe.name)).toEqual(['debian', 'fedora'])
  })

  it('unknown distro lists the known ones', () => {
    expect(() => getDistro('arch')).toThrow(expect.objectContaining({code: 'UNKNOWN_DISTRO', hints: ['known distros: debian, fedora']}))
  })

  it('debian: debootstrap minbase with systemd, dbus and sshd, plus extra packages once', () => {
    const argv = getDistro('debian').bootstrapArgv({release: 'bookworm', mirror: 'http://m/debian', target: '/t', extraPackages: ['git', 'dbus']})
    expect(argv).toEqual([
      'debootstrap',
      '--variant=minbase',
      '--include=systemd,systemd-sysv,dbus,openssh-server,git',
      'bookworm',
      '/t',
      'http://m/debian',
    ])
  })

  it('fedora: dnf --installroot with the release and the recipe packages', () => {
    const argv = getDistro('fedora').bootstrapArgv({release: '40', mirror: 'http://m/fedora', target: '/t', extraPackages: []})
    expect(argv.slice(0, 4)).toEqual(['dnf', '-y', '--installroot=/t', '--releasever=40'])
    expect(argv).toContain('--repofrompath=ctr-fedora,http://m/fedora')
    expect(argv.slice(argv.indexOf('install') + 1)).toEqual(['systemd', 'passwd', 'dnf', 'fedora-release', 'openssh-server', 'vim-minimal'])
  })
})

describe('debootstrap progress', () => {
  it('rises monotonically through the phases to 1', () => {
    const tracker = debootstrapProgress(4)
    const lines = [
      'I: Retrieving InRelease ',
      ...['a', 'b', 'c', 'd'].flatMap((p) => [`I: Retrieving ${p} 1.0`, `I: Validating ${p} 1.0`]),
      'I: Extracting a...',
      'I: Extracting b...',
      ...['a', 'b', 'c', 'd'].map((p) => `I: Unpacking ${p}...`),
      ...['a', 'b', 'c', 'd'].map((p) => `I: Configuring ${p}...`),
      'I: Base system installed successfully.',
    ]
    const fractions = lines.map((l) => tracker.feed(l)?.fraction).filter((f): f is number => f !== undefined)
    expect(fractions.at(-1)).toBe(1)
    for (let i = 1; i < fractions.length; i++) expect(fractions[i]).toBeGreaterThanOrEqual(fractions[i - 1])
    expect(fractions[0]).toBeLessThan(0.2)
  })

  it('tells an unreachable mirror and a full disk from other failures', () => {
    expect(classifyDebootstrapFailure('E: Failed getting release file http://nope/dists/bookworm/InRelease')).toMatchObject({code: 'MIRROR_UNREACHABLE'})
    expect(classifyDebootstrapFailure('tar: ./usr/bin/x: Cannot write: No space left on device')).toMatchObject({code: 'NO_SPACE'})
    expect(classifyDebootstrapFailure('E: Couldn\'t find these debs: nosuchpkg')).toBeUndefined()
  })
})
