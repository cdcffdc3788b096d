/** A real OpenSSH client against a test port, with a throwaway key pair made by the test. */
import {mkdtemp} from 'node:fs/promises'
import {tmpdir} from 'node:os'
import {join} from 'node:path'
import {setTimeout as sleep} from 'node:timers/promises'
import {execa} from 'execa'

export async function makeKeyPair(): Promise<{dir: string; key: string; pub: string}> {
  const dir = await mkdtemp(join(tmpdir(), 'ctr-test-key-'))
  const key = join(dir, 'id_ed25519')
  await execa('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'ctr-test', '-f', key])
  return {dir, key, pub: `${key}.pub`}
}

export function sshArgv(key: string, port: number, command: string): string[] {
  return [
    '-i', key,
    '-p', String(port),
    '-o', 'StrictHostKeyChecking=no',
    '-o', 'UserKnownHostsFile=/dev/null',
    '-o', 'BatchMode=yes',
    '-o', 'LogLevel=ERROR',
    '-o', 'ConnectTimeout=60',
    'root@127.0.0.1',
    command,
  ]
}

export async function ssh(key: string, port: number, command: string, timeoutMs = 90_000) {
  return execa('ssh', sshArgv(key, port, command), {timeout: timeoutMs, reject: false})
}

/** Retries until ssh succeeds (a container booted by hand binds its port some time after start). */
export async function sshWhenUp(key: string, port: number, command: string, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const result = await ssh(key, port, command, 20_000)
    if (result.exitCode === 0 || Date.now() > deadline) return result
    await sleep(300)
  }
}
