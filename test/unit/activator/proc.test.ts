import {describe, expect, it} from 'vitest'
import {TCP_ESTABLISHED, TCP_LISTEN, establishedByPort, hearsSignal, parseProcNetTcp, processTree} from '../../../src/activator/proc.js'

const TCP6 = `  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:08AE 00000000000000000000000000000000:0000 0A 00000000:00000003 00:00000000 00000000     0        0 1234 1 0000000000000000 100 0 0 10 0
   1: 0000000000000000FFFF00000100007F:08AE 0000000000000000FFFF00000100007F:D2F0 01 00000000:00000000 02:00000C8B 00000000     0        0 5678 2 0000000000000000 20 4 30 10 -1
   2: 0000000000000000FFFF00000100007F:08AF 0000000000000000FFFF00000100007F:D2F2 06 00000000:00000000 03:00000C8B 00000000     0        0 0 3 0000000000000000
`
const TCP4 = `  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:08AE 0100007F:D2F4 01 00000000:00000000 00:00000000 00000000     0        0 590 1 000000001dbdddd3 100 0 0 10 0
   1: 0100007F:08AE 0100007F:D2F6 01 00000000:00000000 00:00000000 00000000     0        0 0 1 000000001dbdddd4 100 0 0 10 0
`

describe('/proc/net/tcp', () => {
  it('reads the local port, the state and a LISTEN row\'s accept queue', () => {
    expect(parseProcNetTcp(TCP6)).toEqual([
      {localPort: 2222, state: TCP_LISTEN, rxQueue: 3, inode: 1234},
      {localPort: 2222, state: TCP_ESTABLISHED, rxQueue: 0, inode: 5678},
      {localPort: 2223, state: 6, rxQueue: 0, inode: 0},
    ])
  })

  it('counts accepted established connections per exposed port over tcp and tcp6, not those still queued (inode 0)', () => {
    const rows = [...parseProcNetTcp(TCP6), ...parseProcNetTcp(TCP4)]
    expect(establishedByPort(rows, [2222, 2223, 9999])).toEqual(
      new Map([
        [2222, 2],
        [2223, 0],
        [9999, 0],
      ]),
    )
  })

  it('reads a connection still in the accept queue as inode 0, for real', async () => {
    const {connect} = await import('node:net')
    const {listenTcp, closeFd, canBind} = await import('../../../src/sys/socket.js')
    let port = 40000 + Math.floor(Math.random() * 5000)
    while (!canBind(port).ok) port++
    // A listening socket nothing accepts on (as a held socket is), and one client.
    const fd = listenTcp(port, '127.0.0.1')
    const client = connect(port, '127.0.0.1')
    await new Promise((r) => client.once('connect', r))
    try {
      const {readTcpRows} = await import('../../../src/activator/proc.js')
      const queued = readTcpRows().filter((r) => r.localPort === port && r.state === TCP_ESTABLISHED)
      expect(queued.map((r) => r.inode)).toEqual([0])
      expect(establishedByPort(readTcpRows(), [port]).get(port)).toBe(0)
    } finally {
      client.destroy()
      closeFd(fd)
    }
  })
})

describe('process trees', () => {
  it('collects a pid and its descendants', () => {
    const parents = new Map([
      [10, 1],
      [11, 10],
      [12, 11],
      [13, 1],
      [14, 10],
    ])
    expect(processTree(10, parents).sort()).toEqual([10, 11, 12, 14])
  })
})

describe('mount points', () => {
  it('reads field 5 of mountinfo, unescaping octal', async () => {
    const {mountPoints} = await import('../../../src/activator/tree.js')
    const text = `22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/vda rw
99 22 0:50 / /var/lib/ctr/containers/a\\040b/rootfs rw,relatime shared:40 - overlay overlay rw,lowerdir=/x
`
    expect(mountPoints(text)).toEqual(new Set(['/', '/var/lib/ctr/containers/a b/rootfs']))
  })
})

describe('signals PID 1 of a container would hear', () => {
  // systemd 252 while booting: SIGRTMIN+3 (37) blocked for its signalfd, not caught.
  const systemd = 'Name:\tsystemd\nSigBlk:\t7fe3c0fe28014a03\nSigIgn:\t0000000180001000\nSigCgt:\t00000000000004ec\n'
  // The same process a few ms earlier: nothing blocked yet, only crash handlers.
  const early = 'Name:\tsystemd\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000001000\nSigCgt:\t00000000000004ec\n'

  it('reads SigBlk and SigCgt', () => {
    expect(hearsSignal(1, 37, systemd)).toBe(true)
    expect(hearsSignal(1, 37, early)).toBe(false)
    // SIGSEGV (11) has a handler in both.
    expect(hearsSignal(1, 11, early)).toBe(true)
    expect(hearsSignal(1, 37, 'Name:\tgone\n')).toBe(false)
  })
})
