import {describe, expect, it} from 'vitest'
import {classifyDebootstrapFailure, debootstrapProgress} from '../../src/distros/debian.js'
import {getDistro, knownDistros} from '../../src/distros/index.js'
import {parseOsRelease} from '../../src/rootfs/image-archive.js'

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

  it('fedora: dnf --installroot with the release, only ctr\'s repositories and the recipe packages', () => {
    const fedora = getDistro('fedora')
    const request = {release: '40', mirror: fedora.recipe.mirror, target: '/t', extraPackages: [], configDir: '/t.config'}
    const argv = fedora.bootstrapArgv(request)
    expect(argv.slice(0, 4)).toEqual(['dnf', '-y', '--installroot=/t', '--releasever=40'])
    expect(argv).toEqual(expect.arrayContaining(['--setopt=reposdir=/t.config', '--disablerepo=*', '--enablerepo=ctr-fedora*']))
    expect(argv).not.toContain('--nogpgcheck')
    expect(argv.slice(argv.indexOf('install') + 1)).toEqual(['systemd', 'passwd', 'dnf', 'fedora-release', 'openssh-server', 'vim-minimal'])
    // The release and updates metalinks, every package checked against Fedora's key.
    const repos = fedora.bootstrapFiles!(request)['ctr-fedora.repo']
    expect(repos).toMatch(/^\[ctr-fedora\]\n.*\nmetalink=https:\/\/mirrors\.fedoraproject\.org\/metalink\?repo=fedora-\$releasever&arch=\$basearch\ngpgcheck=1\ngpgkey=https:\/\/src\.fedoraproject\.org\/.*RPM-GPG-KEY-fedora-\$releasever-primary$/m)
    expect(repos).toMatch(/^\[ctr-fedora-updates\]\n.*\nmetalink=.*repo=updates-released-f\$releasever/m)
    // --mirror: one base URL, no updates repository of Fedora's.
    const mirrored = fedora.bootstrapFiles!({...request, mirror: 'http://m/fedora/40/os/'})['ctr-fedora.repo']
    expect(mirrored).toMatch(/^baseurl=http:\/\/m\/fedora\/40\/os\/$/m)
    expect(mirrored).not.toContain('updates')
    expect(mirrored.match(/^gpgcheck=1$/gm)).toHaveLength(1)
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

describe('os-release', () => {
  it('reads quoted and bare values, and ignores comments', () => {
    const text = '# a comment\nPRETTY_NAME="Fedora Linux 40 (Container Image)"\nID=fedora\nVERSION_ID=40\nVERSION_CODENAME=""\nNAME=\'Fedora\'\n'
    expect(parseOsRelease(text)).toEqual({PRETTY_NAME: 'Fedora Linux 40 (Container Image)', ID: 'fedora', VERSION_ID: '40', VERSION_CODENAME: '', NAME: 'Fedora'})
  })
})
