/**
 * The seed's three services in one container, each woken by its own client (real nspawn, real
 * clients): OpenSSH, curl and the mariadb client. Every boot passes all three sockets and each is
 * matched to its own socket unit; the first connection of any kind wakes the container and the
 * others, arriving during that boot, wait and are served. MariaDB's data outlives an idle poweroff;
 * an HTTP keep-alive connection is a connection to the idle rule; ports change only while the
 * container is off, and a change that fails leaves the tree as it was.
 */
import {existsSync} from 'node:fs'
import {chmod, mkdir, mkdtemp, readFile, rm, writeFile} from 'node:fs/promises'
import {connect, type Socket} from 'node:net'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {execa} from 'execa'
import {afterAll, beforeAll, describe, expect, it} from 'vitest'
import {startActivator, type RunningActivator} from '../../src/activator/server.js'
import {createContainer} from '../../src/containers/create.js'
import {exposePort, unexposePort} from '../../src/containers/expose.js'
import {startContainers, stopContainers} from '../../src/containers/lifecycle.js'
import {updateContainer} from '../../src/containers/update.js'
import {exportImage} from '../../src/rootfs/image-archive.js'
import {listImages, readImage, removeImage} from '../../src/rootfs/images.js'
import {ensurePackageLayer} from '../../src/rootfs/layers.js'
import {readInTree} from '../../src/rootfs/tree-fs.js'
import {getContainerStatus} from '../../src/status/collect.js'
import type {ContainerStatus} from '../../src/status/types.js'
import {getContainer} from '../../src/store/containers.js'
import {containerPaths, imagePaths, layout} from '../../src/store/paths.js'
import {canBind} from '../../src/sys/socket.js'
import {freePorts} from '../helpers/ports.js'
import {cachedLayer, makeTestRoot, skipReason, tearDown} from '../helpers/roots.js'
import {makeKeyPair, ssh} from '../helpers/ssh.js'

const reason = skipReason()
if (reason) console.warn(`test/integration/services.test.ts: ${reason}`)

const PASSWORD = 'ctr-test-Pa55word'

function mariadb(port: number, sql: string, password = PASSWORD) {
  return execa('mariadb', ['-h', '127.0.0.1', '-P', String(port), '-u', 'admin', `-p${password}`, '-N', '-B', '--connect-timeout=60', '-e', sql], {timeout: 90_000, reject: false})
}

function curl(port: number, path = '/') {
  return execa('curl', ['-sS', '--max-time', '90', '-w', '\n%{http_code}', `http://127.0.0.1:${port}${path}`], {reject: false})
}

/** Every path under DIR with its size, to compare a tree before and after a change that failed. */
async function snapshot(dir: string): Promise<string> {
  return (await execa('find', [dir, '-printf', '%P %s %m\\n'])).stdout.split('\n').sort().join('\n')
}

describe.skipIf(reason)('ssh, http and mariadb in one container, each woken by its own client', () => {
  let root: string
  let activator: RunningActivator | undefined
  let keys: Awaited<ReturnType<typeof makeKeyPair>>
  let site: string
  let passwordFile: string
  const log: string[] = []
  const [SSH, HTTP, DB] = freePorts(3, 26000, 13)
  const status = async (): Promise<ContainerStatus> => (await getContainerStatus(root, 'svc'))!
  const waitFor = async <T>(what: string, probe: () => Promise<T | undefined>, ms = 60_000): Promise<T> => {
    for (const deadline = Date.now() + ms; Date.now() < deadline; await sleep(100)) {
      const value = await probe()
      if (value !== undefined) return value
    }
    throw new Error(`timed out waiting for ${what}`)
  }
  const asleep = () => waitFor('svc to sleep', async () => ((await status()).state === 'listening' ? true : undefined))

  beforeAll(async () => {
    root = await makeTestRoot({layers: [['http'], ['http', 'mariadb']]})
    keys = await makeKeyPair()
    site = await mkdtemp(join(tmpdir(), 'ctr-test-site-'))
    await writeFile(join(site, 'index.html'), 'hello from the host\n')
    await chmod(site, 0o755)
    passwordFile = join(site, '..', `${site.split('/').pop()}.pw`)
    await writeFile(passwordFile, `${PASSWORD}\n`, {mode: 0o600})
    await createContainer(root, {distro: 'debian', name: 'svc', sshKeyFiles: [keys.pub], idleTimeoutSec: 0, ports: [{port: SSH, service: 'ssh', address: '127.0.0.1'}]})
    activator = await startActivator({root, log: (m) => log.push(`${new Date().toISOString()} ${m}`), stopTimeoutMs: 30_000, idleCheckMs: 200})
  })

  afterAll(async () => {
    await tearDown({activator, root, keys, log})
    await rm(site, {recursive: true, force: true})
    await rm(passwordFile, {force: true})
  })

  it('expose puts the packages in from the shared layer, without booting the container', async () => {
    const layer = await cachedLayer(['http', 'mariadb'])
    const http = await exposePort(root, {spec: `127.0.0.1:${HTTP}`, service: 'http', container: 'svc', docroot: site})
    expect(http.installed).toEqual(['lighttpd'])
    expect(http.docroot).toBe(site)
    expect(http.warnings).toBeUndefined()
    const db = await exposePort(root, {spec: `127.0.0.1:${DB}`, service: 'mariadb', container: 'svc', passwordFile})
    expect(db.installed).toEqual(['mariadb-server'])
    expect(db.adminPassword).toBeUndefined()
    // The layer with both packages, built once for the run, shared: the container's own tree has none of them.
    expect((await getContainer(root, 'svc')).image).toBe(layer)
    expect(db.image).toBe(layer)
    const upper = containerPaths(root, 'svc').upper
    expect((await execa('du', ['-sxm', upper])).stdout.split('\t')[0]).toMatch(/^\d$/)
    expect(existsSync(join(containerPaths(root, 'svc').rootfs, 'usr/sbin/mariadbd'))).toBe(true)
    expect(existsSync(join(upper, 'usr/sbin/mariadbd'))).toBe(false)
    expect((await status()).state).toBe('stopped')
  })

  it('the first connection of any kind wakes it; the others, arriving during that boot, wait and are served', async () => {
    expect((await startContainers(root, ['svc'], {now: false})).items[0].error).toBeUndefined()
    expect((await status()).state).toBe('listening')
    const [page, query, shell] = await Promise.all([curl(HTTP), mariadb(DB, 'SELECT 1'), ssh(keys.key, SSH, 'systemctl is-active ctr-ssh.socket ctr-http.socket ctr-mariadb.socket ctr-mariadb-local.socket')])
    expect(page.stdout).toBe('hello from the host\n\n200')
    expect(query.stdout, query.stderr).toBe('1')
    expect(shell.stdout.split('\n')).toEqual(['active', 'active', 'active', 'active'])
    expect((await status()).wakes).toBe(1)
  })

  it('the host directory is served read-only, and nothing of the container binds a port of its own', async () => {
    const write = await ssh(keys.key, SSH, 'touch /var/www/html/x')
    expect(write.exitCode).not.toBe(0)
    expect(write.stderr).toMatch(/Read-only file system/)
    // lighttpd and mariadbd listen on the passed sockets only (the stock configs would bind :80 and :3306).
    const listening = await ssh(keys.key, SSH, "ss -Hltnp | grep -E 'lighttpd|mariadbd' | awk '{print $4}' | sort -u")
    expect(listening.stdout.split('\n').sort()).toEqual([`127.0.0.1:${DB}`, `127.0.0.1:${HTTP}`].sort())
    // Inside, root reaches MariaDB through its own unix socket.
    const local = await ssh(keys.key, SSH, "mariadb -N -e 'SELECT CURRENT_USER()'")
    expect(local.stdout, local.stderr).toBe('root@localhost')
  })

  it("MariaDB's data survives an idle poweroff: a new session wakes the container and reads the row back", async () => {
    const made = await mariadb(DB, 'CREATE DATABASE shop; CREATE TABLE shop.orders (id INT PRIMARY KEY, item TEXT); INSERT INTO shop.orders VALUES (1, "tea")')
    expect(made.exitCode, made.stderr).toBe(0)
    await updateContainer(root, 'svc', {idleTimeoutSec: 2})
    const idle = await waitFor('the idle poweroff', async () => {
      const s = await status()
      return s.state === 'listening' && s.lastStopReason === 'idle' ? s : undefined
    })
    // Stopped in order at the poweroff (not killed with what remained): InnoDB shut down cleanly.
    const journal = await execa('journalctl', ['-D', join(containerPaths(root, 'svc').rootfs, 'var/log/journal'), '--no-pager', '-o', 'cat', '-t', 'mariadbd'], {reject: false})
    expect(journal.stdout).toMatch(/mariadbd: Shutdown complete/)
    const read = await mariadb(DB, 'SELECT item FROM shop.orders WHERE id = 1')
    expect(read.stdout, read.stderr).toBe('tea')
    expect((await status()).wakes).toBe(idle.wakes + 1)
  })

  it('an HTTP keep-alive connection keeps the container up; it powers off once the connection closes', async () => {
    await asleep()
    const client: Socket = connect(HTTP, '127.0.0.1')
    const answered = new Promise<string>((resolve, reject) => {
      client.once('data', (chunk) => resolve(chunk.toString('latin1')))
      client.once('error', reject)
    })
    client.write(`GET / HTTP/1.1\r\nHost: svc\r\nConnection: keep-alive\r\n\r\n`)
    expect(await answered).toMatch(/^HTTP\/1\.1 200/)
    // Idle timeout 2 s: held open for 5 s, the connection keeps it running (lighttpd's own keep-alive idle is 5 s; a request every 2 s renews it).
    for (let i = 0; i < 3; i++) {
      await sleep(1700)
      expect((await status()).state).toBe('running')
      client.write(`GET / HTTP/1.1\r\nHost: svc\r\nConnection: keep-alive\r\n\r\n`)
    }
    expect((await status()).connections).toBeGreaterThanOrEqual(1)
    client.destroy()
    await waitFor('the idle poweroff after the close', async () => ((await status()).state === 'listening' ? true : undefined), 30_000)
    expect((await status()).lastStopReason).toBe('idle')
    await updateContainer(root, 'svc', {idleTimeoutSec: 0})
  })

  it('ports change only while it is off: on a running container expose and unexpose are refused and change nothing', async () => {
    expect((await curl(HTTP)).stdout).toMatch(/200$/)
    // Running once its accept queue is seen empty (the activator looks every few ms).
    await waitFor('svc to run', async () => ((await status()).state === 'running' ? true : undefined))
    const [spare] = freePorts(1, 27500, 13)
    const before = await readFile(containerPaths(root, 'svc').record, 'utf8')
    await expect(exposePort(root, {spec: `127.0.0.1:${spare}`, service: 'http', container: 'svc'})).rejects.toMatchObject({code: 'RUNNING'})
    await expect(unexposePort(root, {spec: `127.0.0.1:${HTTP}`, container: 'svc'})).rejects.toMatchObject({code: 'RUNNING'})
    expect(await readFile(containerPaths(root, 'svc').record, 'utf8')).toBe(before)
    expect(canBind(spare, '127.0.0.1').ok).toBe(true)
    expect((await curl(HTTP)).stdout).toMatch(/200$/)
  })

  it('on a sleeping container, unexpose lets the port go and expose holds the new one at once; the next boot serves it', async () => {
    await stopContainers(root, ['svc'], {keepPorts: true})
    const [spare] = freePorts(1, 27600, 13)
    const removed = await unexposePort(root, {spec: `127.0.0.1:${HTTP}`, container: 'svc'})
    expect(removed.removed.map((e) => e.port)).toEqual([HTTP])
    expect(canBind(HTTP, '127.0.0.1').ok).toBe(true)
    expect(await readInTree(containerPaths(root, 'svc').rootfs, '/etc/systemd/system/ctr-http.socket')).toBeUndefined()
    const added = await exposePort(root, {spec: `127.0.0.1:${spare}`, service: 'http', container: 'svc'})
    expect(added.held).toBe(true)
    expect(canBind(spare, '127.0.0.1').ok).toBe(false)
    // The docroot went with the service's last port: the placeholder page that names the container is served.
    const page = await curl(spare)
    expect(page.stdout).toContain('<h1>svc</h1>')
    expect(page.stdout).toMatch(/200$/)
    await stopContainers(root, ['svc'], {keepPorts: true})
    await unexposePort(root, {spec: `127.0.0.1:${spare}`, container: 'svc'})
    await exposePort(root, {spec: `127.0.0.1:${HTTP}`, service: 'http', container: 'svc', docroot: site})
    expect((await curl(HTTP)).stdout).toBe('hello from the host\n\n200')
  })

  it('bad input: one clear error, and the tree and record exactly as they were', async () => {
    await stopContainers(root, ['svc'], {keepPorts: true})
    const [spare] = freePorts(1, 27700, 13)
    const upper = containerPaths(root, 'svc').upper
    const before = {tree: await snapshot(upper), record: await readFile(containerPaths(root, 'svc').record, 'utf8')}
    await expect(exposePort(root, {spec: `127.0.0.1:${spare}`, service: 'http', container: 'svc', docroot: passwordFile})).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('is not a directory'),
    })
    await expect(exposePort(root, {spec: `127.0.0.1:${spare}`, service: 'http', container: 'svc', docroot: join(site, 'nope')})).rejects.toMatchObject({
      code: 'INVALID_ARGUMENT',
      message: expect.stringContaining('no such directory'),
    })
    await expect(exposePort(root, {spec: `127.0.0.1:${spare}`, service: 'ssh', container: 'svc', passwordFile})).rejects.toMatchObject({code: 'INVALID_ARGUMENT'})
    await expect(exposePort(root, {spec: `127.0.0.1:${spare}`, service: 'postgres', container: 'svc'})).rejects.toMatchObject({code: 'UNKNOWN_SERVICE'})
    expect(await snapshot(upper)).toBe(before.tree)
    expect(await readFile(containerPaths(root, 'svc').record, 'utf8')).toBe(before.record)
    expect(canBind(spare, '127.0.0.1').ok).toBe(true)
  })

  it('a package the mirror lacks, or a mirror that cannot be reached: one clear error, and no layer is left', async () => {
    const base = (await readImage(root, (await getContainer(root, 'svc')).image))!
    await expect(ensurePackageLayer(root, base, ['ctr-no-such-package'])).rejects.toMatchObject({code: 'NO_SUCH_PACKAGE', message: expect.stringContaining('ctr-no-such-package')})
    // Images (not their lock files, .ID.lock, which stay as every image's do).
    const images = async () => (await execa('ls', [layout(root).images])).stdout
    const tmp = async () => (await execa('ls', ['-A', layout(root).tmp])).stdout.split('\n').filter((n) => n.startsWith('image-'))
    const imagesBefore = await images()
    expect(await tmp()).toEqual([])
    // A base whose mirror cannot be reached (a port on this machine where nothing listens): the
    // base's tree with another sources.list over it, registered as an image of this root.
    const unreachable = join(layout(root).images, 'debian-unreachable')
    const over = join(root, 'unreachable-over')
    for (const dir of [join(unreachable, 'tree'), join(over, 'upper/etc/apt'), join(over, 'work')]) await mkdir(dir, {recursive: true})
    await writeFile(join(over, 'upper/etc/apt/sources.list'), 'deb http://127.0.0.1:9/debian bookworm main\n')
    await execa('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${imagePaths(root, base.parent!).tree},upperdir=${over}/upper,workdir=${over}/work`, join(unreachable, 'tree')])
    try {
      await writeFile(join(unreachable, 'image.json'), JSON.stringify({...base, id: 'debian-unreachable', parent: undefined, packages: undefined}))
      const image = (await readImage(root, 'debian-unreachable'))!
      // hello is in the base's package lists, so apt-get tries to fetch it from the mirror.
      await expect(ensurePackageLayer(root, image, ['hello'])).rejects.toMatchObject({code: 'MIRROR_UNREACHABLE'})
      expect(await tmp()).toEqual([])
    } finally {
      await execa('umount', [join(unreachable, 'tree')])
      await rm(unreachable, {recursive: true, force: true})
    }
    expect(await images()).toBe(imagesBefore)
  })

  it('a second container with the same services shares the layer: it costs only its own files', async () => {
    const [ssh2, http2, db2] = freePorts(3, 27800, 13)
    const started = Date.now()
    await createContainer(root, {distro: 'debian', name: 'svc2', sshKeyFiles: [keys.pub], idleTimeoutSec: 0, ports: [{port: ssh2, service: 'ssh', address: '127.0.0.1'}]})
    await exposePort(root, {spec: `127.0.0.1:${http2}`, service: 'http', container: 'svc2'})
    const db = await exposePort(root, {spec: `127.0.0.1:${db2}`, service: 'mariadb', container: 'svc2'})
    const seconds = (Date.now() - started) / 1000
    expect(db.adminPassword).toMatch(/^[A-Za-z0-9_-]{20}$/)
    expect((await getContainer(root, 'svc2')).image).toBe((await getContainer(root, 'svc')).image)
    const bytes = Number((await execa('du', ['-sxb', containerPaths(root, 'svc2').dir])).stdout.split('\t')[0])
    console.log(`second container with ssh, http and mariadb: created and exposed in ${seconds.toFixed(2)} s, ${(bytes / 1e6).toFixed(2)} MB`)
    expect(bytes).toBeLessThan(20e6)
    // Its own admin password, generated and shown once, logs in; the first login wakes it.
    expect((await startContainers(root, ['svc2'], {now: false})).items[0].error).toBeUndefined()
    const query = await mariadb(db2, 'SELECT 1', db.adminPassword)
    expect(query.stdout, query.stderr).toBe('1')
    expect((await curl(http2)).stdout).toContain('<h1>svc2</h1>')
  })

  it('ctr images lists the layer with what it adds; neither a base with layers on it nor a layer is removed or exported as a tree', async () => {
    const layer = (await getContainer(root, 'svc')).image
    const listed = (await listImages(root)).find((i) => i.id === layer)
    expect(listed).toMatchObject({parent: 'debian-bookworm', packages: ['lighttpd', 'mariadb-server'], usedBy: ['svc', 'svc2']})
    expect((await listImages(root)).find((i) => i.id === 'debian-bookworm')?.layers).toContain(layer)
    await expect(removeImage(root, 'debian-bookworm')).rejects.toMatchObject({code: 'IN_USE', message: expect.stringContaining('package layers')})
    await expect(exportImage(root, layer, join(site, 'layer.tar'))).rejects.toMatchObject({code: 'UNSUPPORTED'})
    expect(existsSync(join(site, 'layer.tar'))).toBe(false)
  })
})
