import {describe, expect, it} from 'vitest'
import {getService, listenValue, serviceUnitText, socketUnitText} from '../../src/units/services.js'

describe('ssh units', () => {
  const ssh = getService('ssh')

  it('socket unit: one ListenStream per exposure, Accept=yes, wanted by sockets.target', () => {
    const text = socketUnitText(ssh, [{port: 23, service: 'ssh'}, {port: 2222, service: 'ssh', address: '127.0.0.1'}])
    expect(text).toContain('[Socket]\nListenStream=23\nListenStream=127.0.0.1:2222\nAccept=yes\n')
    expect(text).toContain('[Install]\nWantedBy=sockets.target')
    expect(text).not.toContain('DefaultDependencies')
  })

  it("socket unit: neither systemd's 64-connection cap nor its trigger limit drops connections under load", () => {
    const text = socketUnitText(ssh, [{port: 23, service: 'ssh'}])
    // Defaults close the 65th concurrent connection and fail the socket after 200 in 2 s.
    expect(text).toMatch(/^MaxConnections=1024$/m)
    expect(text).toMatch(/^TriggerLimitIntervalSec=0$/m)
  })

  it('service template runs sshd -i on the socket, keeping /run/sshd across instances', () => {
    const text = serviceUnitText(ssh)
    expect(text).toContain('ExecStart=-/usr/sbin/sshd -i\n')
    expect(text).toContain('StandardInput=socket\n')
    expect(text).toContain('RuntimeDirectory=sshd\n')
    expect(text).toContain('RuntimeDirectoryPreserve=yes\n')
  })

  it('lean units skip default dependencies', () => {
    expect(socketUnitText(ssh, [{port: 23, service: 'ssh'}], {lean: true})).toContain('DefaultDependencies=no')
    expect(serviceUnitText(ssh, {lean: true})).toContain('DefaultDependencies=no')
  })

  it('writes IPv6 addresses in brackets and a bare port as [::]:PORT (dual-stack)', () => {
    expect(listenValue({port: 22, service: 'ssh', address: '::1'})).toBe('[::1]:22')
    expect(listenValue({port: 22, service: 'ssh'})).toBe('22')
  })

  it('masks the distro\'s always-on sshd', () => {
    expect(ssh.mask).toContain('ssh.service')
  })

  it('names unknown services and lists the known ones', () => {
    expect(() => getService('gopher')).toThrow(expect.objectContaining({code: 'UNKNOWN_SERVICE', hints: ['known services: ssh']}))
  })
})
