/**
 * The new mount API (open_tree(2), mount_setattr(2), move_mount(2); Linux 5.12 for idmapped
 * mounts), which Node does not offer and util-linux's mount(8) on Debian 12 cannot drive for an
 * idmap (X-mount.idmap came in 2.39). x86-64 syscall numbers, called through libc's syscall(2).
 */
import {closeSync} from 'node:fs'
import {errno, fn} from './libc.js'

const SYS_OPEN_TREE = 428
const SYS_MOVE_MOUNT = 429
const SYS_MOUNT_SETATTR = 442
const AT_FDCWD = -100
const AT_EMPTY_PATH = 0x1000
const OPEN_TREE_CLONE = 1
const OPEN_TREE_CLOEXEC = 0o2000000
const MOVE_MOUNT_F_EMPTY_PATH = 0x04
const MOUNT_ATTR_IDMAP = 0x00100000n

const syscall = () => fn('long syscall(long number, ...)')

function check(what: string, result: unknown): number {
  const n = Number(result)
  if (n < 0) throw Object.assign(new Error(`${what} failed (errno ${errno()})`), {errno: errno()})
  return n
}

/**
 * Mounts a clone of SOURCE (not recursive: one file system) on TARGET, idmapped through the user
 * namespace USERNS_FD: a file owned by u on disk is seen there as the host ID that u maps to.
 */
export function mountIdmapped(source: string, target: string, usernsFd: number): void {
  const tree = check(`open_tree ${source}`, syscall()(SYS_OPEN_TREE, 'int', AT_FDCWD, 'str', source, 'uint', OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC))
  try {
    // struct mount_attr {u64 attr_set, attr_clr, propagation, userns_fd}
    const attr = Buffer.alloc(32)
    attr.writeBigUInt64LE(MOUNT_ATTR_IDMAP, 0)
    attr.writeBigUInt64LE(BigInt(usernsFd), 24)
    check(`mount_setattr ${source}`, syscall()(SYS_MOUNT_SETATTR, 'int', tree, 'str', '', 'uint', AT_EMPTY_PATH, 'void *', attr, 'size_t', attr.length))
    check(`move_mount ${target}`, syscall()(SYS_MOVE_MOUNT, 'int', tree, 'str', '', 'int', AT_FDCWD, 'str', target, 'uint', MOVE_MOUNT_F_EMPTY_PATH))
  } finally {
    closeSync(tree)
  }
}
