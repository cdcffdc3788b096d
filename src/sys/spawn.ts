/**
 * posix_spawn(3) through koffi, for the one child whose start is on the hot path: nspawn, when a
 * connection waits. Node's spawn forks the whole activator (page tables of a 55 MB process: about
 * 5 ms); glibc's posix_spawn uses clone(CLONE_VM|CLONE_VFORK) and costs well under 1 ms. The exit
 * is seen through a pidfd (pidfd_open(2), Linux 5.3), which the activator polls with its sockets;
 * libuv reaps only the children it spawned itself, so it never takes this one's exit status.
 */
import {errno, fn} from './libc.js'

const POSIX_SPAWN_SETSIGDEF = 0x04
const POSIX_SPAWN_SETSIGMASK = 0x08
const POSIX_SPAWN_SETSID = 0x80
const O_RDONLY = 0
const O_WRONLY = 1
const O_CREAT = 0o100
const O_TRUNC = 0o1000
const WNOHANG = 1

// Opaque glibc types, sized generously (x86-64: 80, 336 and 128 bytes).
const FILE_ACTIONS_BYTES = 256
const ATTR_BYTES = 512
const SIGSET_BYTES = 128

const c = {
  faInit: () => fn('int posix_spawn_file_actions_init(void *fa)'),
  faDestroy: () => fn('int posix_spawn_file_actions_destroy(void *fa)'),
  faDup2: () => fn('int posix_spawn_file_actions_adddup2(void *fa, int fd, int newfd)'),
  faOpen: () => fn('int posix_spawn_file_actions_addopen(void *fa, int fd, const char *path, int oflag, unsigned int mode)'),
  faClose: () => fn('int posix_spawn_file_actions_addclose(void *fa, int fd)'),
  attrInit: () => fn('int posix_spawnattr_init(void *attr)'),
  attrDestroy: () => fn('int posix_spawnattr_destroy(void *attr)'),
  attrFlags: () => fn('int posix_spawnattr_setflags(void *attr, short flags)'),
  attrSigmask: () => fn('int posix_spawnattr_setsigmask(void *attr, const void *set)'),
  attrSigdefault: () => fn('int posix_spawnattr_setsigdefault(void *attr, const void *set)'),
  sigempty: () => fn('int sigemptyset(void *set)'),
  sigfill: () => fn('int sigfillset(void *set)'),
  spawn: () => fn('int posix_spawn(_Out_ int *pid, const char *path, void *fa, void *attr, const char **argv, const char **envp)'),
  pidfdOpen: () => fn('int pidfd_open(int pid, unsigned int flags)'),
  waitpid: () => fn('int waitpid(int pid, _Out_ int *status, int options)'),
  close: () => fn('int close(int fd)'),
  kill: () => fn('int kill(int pid, int sig)'),
}

export interface SpawnRequest {
  path: string
  argv: readonly string[]
  env: Readonly<Record<string, string>>
  /** Parent fds that become the child's 3, 4, ... in order (close-on-exec cleared by dup2). */
  passFds: readonly number[]
  /** stdout and stderr of the child, truncated; stdin is /dev/null. */
  outputPath: string
  /** A session of its own (setsid), as Node's `detached`. */
  newSession: boolean
}

function check(call: string, result: number): void {
  // posix_spawn* return an error number instead of setting errno.
  if (result !== 0) throw Object.assign(new Error(`${call} failed: errno ${result}`), {errno: result})
}

/**
 * The file actions, as a plan: every passed fd is first moved above all the fds involved, then
 * down to 3, 4, ..., so that a source fd that happens to be one of the targets is not overwritten
 * before it is copied.
 */
export function fdPlan(passFds: readonly number[]): Array<{op: 'dup2'; from: number; to: number} | {op: 'close'; fd: number}> {
  const high = Math.max(2 + passFds.length, ...passFds) + 1
  const plan: Array<{op: 'dup2'; from: number; to: number} | {op: 'close'; fd: number}> = []
  passFds.forEach((fd, i) => plan.push({op: 'dup2', from: fd, to: high + i}))
  passFds.forEach((_, i) => plan.push({op: 'dup2', from: high + i, to: 3 + i}))
  passFds.forEach((_, i) => plan.push({op: 'close', fd: high + i}))
  return plan
}

/** Starts the program; returns its pid. Signals are reset to their defaults and unblocked. */
export function posixSpawn(request: SpawnRequest): number {
  const fa = Buffer.alloc(FILE_ACTIONS_BYTES)
  const attr = Buffer.alloc(ATTR_BYTES)
  check('posix_spawn_file_actions_init', c.faInit()(fa) as number)
  try {
    check('posix_spawnattr_init', c.attrInit()(attr) as number)
    try {
      check('addopen stdin', c.faOpen()(fa, 0, '/dev/null', O_RDONLY, 0) as number)
      check('addopen stdout', c.faOpen()(fa, 1, request.outputPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600) as number)
      check('adddup2 stderr', c.faDup2()(fa, 1, 2) as number)
      for (const step of fdPlan(request.passFds)) {
        if (step.op === 'dup2') check('adddup2', c.faDup2()(fa, step.from, step.to) as number)
        else check('addclose', c.faClose()(fa, step.fd) as number)
      }
      // Node ignores SIGPIPE and may block signals on its threads: the child starts clean.
      const all = Buffer.alloc(SIGSET_BYTES)
      const none = Buffer.alloc(SIGSET_BYTES)
      c.sigfill()(all)
      c.sigempty()(none)
      check('setsigdefault', c.attrSigdefault()(attr, all) as number)
      check('setsigmask', c.attrSigmask()(attr, none) as number)
      const flags = POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETSIGMASK | (request.newSession ? POSIX_SPAWN_SETSID : 0)
      check('setflags', c.attrFlags()(attr, flags) as number)
      const pid = [0]
      const env = Object.entries(request.env).map(([k, v]) => `${k}=${v}`)
      check(`posix_spawn ${request.path}`, c.spawn()(pid, request.path, fa, attr, [...request.argv, null], [...env, null]) as number)
      return pid[0]
    } finally {
      c.attrDestroy()(attr)
    }
  } finally {
    c.faDestroy()(fa)
  }
}

/** Declares every libc function used here now, so the first wake does not parse prototypes. */
export function prepareSpawn(): void {
  for (const declare of Object.values(c)) declare()
}

/** A pidfd for PID: readable (POLLIN) once the process has exited. */
export function pidfdOpen(pid: number): number {
  const fd = c.pidfdOpen()(pid, 0) as number
  if (fd < 0) throw Object.assign(new Error(`pidfd_open(${pid}) failed: errno ${errno()}`), {errno: errno()})
  return fd
}

export function closePidfd(fd: number): void {
  c.close()(fd)
}

/** Reaps PID if it has exited: its exit code or the signal that killed it; undefined if it runs. */
export function reap(pid: number): {code: number | null; signal: number | null} | undefined {
  const status = [0]
  const result = c.waitpid()(pid, status, WNOHANG) as number
  if (result === 0) return undefined
  if (result < 0) return {code: null, signal: null}
  return decodeWaitStatus(status[0])
}

const SIGKILL = 9

/**
 * SIGKILL to PID and its process group (posix_spawn's SETSID made it a group leader, so whatever it
 * forked already goes too), then its exit status is taken: for a child that must not run on
 * untracked, e.g. when no pidfd could be opened for it. Waits at most WAIT_MS (a SIGKILLed process
 * is gone in microseconds unless the kernel holds it); true once reaped.
 */
export function killAndReap(pid: number, waitMs = 5000): boolean {
  if (pid <= 0) return false
  c.kill()(-pid, SIGKILL)
  c.kill()(pid, SIGKILL)
  const deadline = Date.now() + waitMs
  const pause = new Int32Array(new SharedArrayBuffer(4))
  for (;;) {
    const status = [0]
    const result = c.waitpid()(pid, status, WNOHANG) as number
    // > 0: reaped now; < 0 (ECHILD): not our child any more, nothing left to reap.
    if (result !== 0) return result > 0
    if (Date.now() > deadline) return false
    Atomics.wait(pause, 0, 0, 1)
  }
}

/** WIFEXITED/WEXITSTATUS/WTERMSIG of a wait status. */
export function decodeWaitStatus(status: number): {code: number | null; signal: number | null} {
  const sig = status & 0x7f
  return sig === 0 ? {code: (status >> 8) & 0xff, signal: null} : {code: null, signal: sig}
}
