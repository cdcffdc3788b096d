/**
 * The activator's systemd unit (ctr activator --unit), checked by the real systemd-analyze verify:
 * this host has no systemd as PID 1 to run it, but systemd's own parser reads it here.
 */
import {mkdtemp, rm, writeFile} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {execa} from 'execa'
import {afterAll, describe, expect, it} from 'vitest'
import {activatorUnitText} from '../../src/activator/unit.js'
import {ctr} from '../helpers/cli.js'

describe('ctr activator --unit', () => {
  const dirs: string[] = []
  afterAll(async () => {
    for (const dir of dirs) await rm(dir, {recursive: true, force: true})
  })

  it('prints a unit that runs this install\'s activator for the root, which systemd-analyze verify accepts', async () => {
    const root = '/srv/ctr state'
    const printed = await ctr(root, ['activator', '--unit'])
    expect(printed.stderr).toBe('')
    expect(printed.exitCode).toBe(0)
    expect(printed.stdout).toMatch(/^ExecStart=\/\S+\/node --max-semi-space-size=1 --jitless --no-expose-wasm \/\S+\/dist\/src\/activator\/daemon\.js --root "\/srv\/ctr state"$/m)
    expect(printed.stdout).toMatch(/^KillMode=process$/m)
    expect(printed.stdout).toMatch(/^WantedBy=multi-user\.target$/m)
    const dir = await mkdtemp(join(tmpdir(), 'ctr-unit-'))
    dirs.push(dir)
    await writeFile(join(dir, 'ctr-activator.service'), printed.stdout)
    const verify = await execa('systemd-analyze', ['verify', join(dir, 'ctr-activator.service')], {reject: false})
    expect(verify.stderr).toBe('')
    expect(verify.exitCode).toBe(0)
  })

  it('quotes words with spaces or quotes and doubles % (a specifier to systemd)', () => {
    const text = activatorUnitText('/r', '/usr/bin/node', ['daemon.js', '--root', '/a b/"c"/50%'])
    expect(text).toMatch(/^ExecStart=\/usr\/bin\/node daemon\.js --root "\/a b\/\\"c\\"\/50%%"$/m)
    expect(activatorUnitText('/r', '/n', ['--root', '/x%y'])).toMatch(/^ExecStart=\/n --root \/x%%y$/m)
  })
})
