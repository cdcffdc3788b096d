/** Which public keys go into root's authorized_keys of a new container. */
import {constants} from 'node:fs'
import {open, readdir} from 'node:fs/promises'
import {homedir} from 'node:os'
import {join} from 'node:path'
import {CtrError, errnoCode} from '../errors.js'

const KEY_LINE = /^(ssh-(rsa|ed25519|dss)|ecdsa-sha2-\S+|sk-\S+)\s+[A-Za-z0-9+/=]+/

/** The invoking user's home: under sudo, the user who ran sudo, not root. */
export function invokingHome(env: NodeJS.ProcessEnv = process.env): string {
  const user = env.SUDO_USER
  if (user && user !== 'root') return `/home/${user}`
  return env.HOME || homedir()
}

/** A public key file is a few hundred bytes; authorized_keys files a few dozen keys. */
const MAX_KEY_FILE = 1024 * 1024

export async function readKeyFile(path: string): Promise<string[]> {
  const hint = 'give a public key file, e.g. --ssh-key ~/.ssh/id_ed25519.pub'
  let text: string
  try {
    // O_NONBLOCK: a fifo with no writer must not hang the command; it is refused below as not a file.
    const handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK)
    try {
      const info = await handle.stat()
      if (!info.isFile()) throw new CtrError('INVALID_ARGUMENT', `SSH key file ${path} is not a regular file`, {hints: [hint]})
      if (info.size > MAX_KEY_FILE) throw new CtrError('INVALID_ARGUMENT', `SSH key file ${path} is too large (${info.size} bytes) for a public key file`, {hints: [hint]})
      text = await handle.readFile('utf8')
    } finally {
      await handle.close()
    }
  } catch (error) {
    if (error instanceof CtrError) throw error
    const reason = errnoCode(error) === 'ENOENT' ? 'does not exist' : errnoCode(error) === 'EISDIR' ? 'is a directory' : 'cannot be read'
    throw new CtrError('INVALID_ARGUMENT', `SSH key file ${path} ${reason}`, {hints: [hint]})
  }
  const keys = text.split('\n').map((l) => l.trim()).filter((l) => KEY_LINE.test(l))
  if (keys.length === 0) {
    throw new CtrError('INVALID_ARGUMENT', `${path} holds no SSH public key`, {hints: ['give the .pub file, not the private key']})
  }
  return keys
}

/** Keys from the given files, or by default from ~/.ssh/*.pub of the invoking user (maybe none). */
export async function authorizedKeys(files: readonly string[] | undefined, home = invokingHome()): Promise<string[]> {
  if (files && files.length > 0) return (await Promise.all(files.map(readKeyFile))).flat()
  let names: string[]
  try {
    names = (await readdir(join(home, '.ssh'))).filter((n) => n.endsWith('.pub')).sort()
  } catch {
    return []
  }
  const keys = await Promise.all(names.map((n) => readKeyFile(join(home, '.ssh', n)).catch(() => [])))
  return keys.flat()
}
