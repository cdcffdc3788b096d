import {describe, expect, it} from 'vitest'
import {groupId, mysqlNativeHash} from '../../src/containers/service-setup.js'
import {fileText, getService, listenValue, localSocketUnitText, servicePackages, serviceUnitText, socketUnitText} from '../../src/units/services.js'

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
    expect(() => getService('gopher')).toThrow(expect.objectContaining({code: 'UNKNOWN_SERVICE', hints: ['known services: http, mariadb, ssh']}))
  })
})

describe('http and mariadb units', () => {
  const http = getService('http')
  const mariadb = getService('mariadb')

  it('one lighttpd for every port (Accept=no), which binds nothing of its own', () => {
    const socket = socketUnitText(http, [{port: 8080, service: 'http'}, {port: 8443, service: 'http', address: '127.0.0.1'}])
    expect(socket).toContain('ListenStream=8080\nListenStream=127.0.0.1:8443\n')
    expect(socket).not.toContain('Accept=yes')
    expect(serviceUnitText(http)).toContain('ExecStart=/usr/sbin/lighttpd -D -f /etc/lighttpd/ctr.conf\n')
    const conf = http.files!.find((f) => f.path === '/etc/lighttpd/ctr.conf')!
    expect(fileText(conf)).toContain('server.systemd-socket-activation = "enable"')
    // The stock lighttpd.conf includes use-ipv6.pl, which binds [::]:80 besides the passed socket.
    expect(fileText(conf)).not.toMatch(/^include_shell .*use-ipv6/m)
    expect(http.mask).toContain('lighttpd.service')
  })

  it("the placeholder page names the container and is kept when the site replaced it", () => {
    const page = http.files!.find((f) => f.path === '/var/www/html/index.html')!
    expect(page.keep).toBe(true)
    expect(fileText(page, {name: 'web1'})).toContain('<h1>web1</h1>')
  })

  it("MariaDB's unix socket is a unit of its own for the same service: the passed one's unit would never open it", () => {
    const tcp = socketUnitText(mariadb, [{port: 3307, service: 'mariadb'}])
    expect(tcp).not.toContain('/run/mysqld/mysqld.sock')
    const local = localSocketUnitText(mariadb)!
    expect(local).toContain('ListenStream=/run/mysqld/mysqld.sock\n')
    expect(local).toContain('Service=ctr-mariadb.service\n')
    expect(localSocketUnitText(http)).toBeUndefined()
    expect(mariadb.mask).toEqual(expect.arrayContaining(['mariadb.service', 'mariadb.socket']))
  })

  it('packages come per distro; a distro without a recipe is refused in one line', () => {
    expect(servicePackages(mariadb, 'debian')).toEqual(['mariadb-server'])
    expect(() => servicePackages(mariadb, 'fedora')).toThrow(expect.objectContaining({code: 'UNSUPPORTED'}))
  })

  it("the admin user's password is kept only as MySQL's native hash", () => {
    // SELECT PASSWORD('secret') in MariaDB.
    expect(mysqlNativeHash('secret')).toBe('*14E65567ABDB5135D0CFD9A70B3032C179A49EE7')
    const text = fileText({path: mariadb.admin!.path, lines: mariadb.admin!.lines}, {passwordHash: mysqlNativeHash('secret')})
    expect(text).toContain("IDENTIFIED BY PASSWORD '*14E65567ABDB5135D0CFD9A70B3032C179A49EE7'")
    expect(text).not.toContain('secret')
    expect(groupId('root:x:0:\nmysql:x:102:\n', 'mysql')).toBe(102)
    expect(groupId('root:x:0:\n', 'mysql')).toBeUndefined()
  })
})
