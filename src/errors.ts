/**
 * The one error type of ctr. `code` is stable (scripts and --json read it), `message` is one line
 * saying what is wrong, `hints` say what to do about it.
 */
export type ErrorCode =
  | 'INVALID_NAME'
  | 'INVALID_ARGUMENT'
  | 'EXISTS'
  | 'NOT_FOUND'
  /** A container's record cannot be read or is not a record (listed as broken; ctr rm removes it). */
  | 'DAMAGED'
  | 'UNKNOWN_DISTRO'
  | 'UNKNOWN_SERVICE'
  | 'MISSING_PROGRAM'
  | 'NOT_ROOT'
  | 'MIRROR_UNREACHABLE'
  | 'BOOTSTRAP_FAILED'
  /** A package a service or --packages names is not on the mirror. */
  | 'NO_SUCH_PACKAGE'
  /** What was asked cannot be done for this distro or storage (no recipe, a --copy tree). */
  | 'UNSUPPORTED'
  /** The container's own files would hide what ctr wants to stack under them. */
  | 'CONFLICT'
  | 'DOWNLOAD_FAILED'
  | 'INVALID_IMAGE'
  | 'INTERRUPTED'
  | 'NO_SPACE'
  | 'UNSAFE_PATH'
  | 'IN_USE'
  | 'RUNNING'
  | 'NOT_RUNNING'
  | 'PORT_BUSY'
  | 'PORT_OWNED'
  | 'ACTIVATOR_DOWN'
  | 'BOOT_FAILED'
  | 'COMMAND_FAILED'
  | 'LOCKED'
  | 'AMBIGUOUS'
  | 'CANCELLED'

export class CtrError extends Error {
  readonly code: ErrorCode
  readonly hints: string[]
  /** Process exit code for the CLI. */
  readonly exitCode: number

  constructor(code: ErrorCode, message: string, options: {hints?: string[]; cause?: unknown; exitCode?: number} = {}) {
    super(message, {cause: options.cause})
    this.name = 'CtrError'
    this.code = code
    this.hints = options.hints ?? []
    this.exitCode = options.exitCode ?? exitCodeFor(code)
  }

  toJSON(): {code: ErrorCode; message: string; hints: string[]} {
    return {code: this.code, message: this.message, hints: this.hints}
  }
}

/** Usage errors exit 2 (as with most CLIs), interruption 130, everything else 1. */
function exitCodeFor(code: ErrorCode): number {
  switch (code) {
    case 'INVALID_NAME':
    case 'INVALID_ARGUMENT':
    case 'UNKNOWN_DISTRO':
    case 'UNKNOWN_SERVICE':
    case 'AMBIGUOUS':
      return 2
    case 'INTERRUPTED':
      return 130
    default:
      return 1
  }
}

export function isCtrError(error: unknown): error is CtrError {
  return error instanceof CtrError
}

/** Node's errno errors carry `code`; this reads it without casts at every call site. */
export function errnoCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as {code: unknown}).code) : undefined
}
