/**
 * Operations on one container run one after another (start, stop, wake, an idle poweroff...), and
 * a client may keep a container's queue for a while: `ctr expose` holds it from the moment the
 * activator has checked and bound the new port until the tree and record are rewritten, so that
 * nothing boots, stops or changes the container in between.
 */
export interface QueueOptions {
  /** Resolves when operations may start (the activator has restored what it holds). */
  ready: Promise<void>
  /** Throws when no operation may start any more (the activator handed over to another). */
  gate: () => void
}

export class ContainerQueues {
  private readonly queues = new Map<string, Promise<unknown>>()
  private readonly kept = new Map<string, {release: () => void; timer: NodeJS.Timeout}>()

  constructor(private readonly options: QueueOptions) {}

  /** Runs BODY after the operations queued for NAME. */
  run<T>(name: string, body: () => Promise<T>): Promise<T> {
    const previous = this.queues.get(name) ?? this.options.ready
    const mine = previous
      .catch(() => {})
      .then(() => {
        this.options.gate()
        return body()
      })
    this.queues.set(name, mine)
    void mine.finally(() => this.queues.get(name) === mine && this.queues.delete(name)).catch(() => {})
    return mine
  }

  /**
   * Runs FIRST in NAME's turn and answers with its result; if it succeeded, NAME's queue stays kept
   * until release(NAME), or ON_EXPIRY after LIMIT_MS (a client that died meanwhile), which must
   * release it.
   */
  keep<T>(name: string, first: () => Promise<T>, limitMs: number, onExpiry: () => void): Promise<T> {
    return new Promise((answer, refuse) => {
      void this.run(name, async () => {
        try {
          answer(await first())
        } catch (error) {
          refuse(error)
          return
        }
        await new Promise<void>((release) => this.kept.set(name, {release, timer: setTimeout(onExpiry, limitMs)}))
      }).catch(refuse)
    })
  }

  isKept(name: string): boolean {
    return this.kept.has(name)
  }

  /** Lets NAME's queue go on (nothing when it is not kept). */
  release(name: string): void {
    const kept = this.kept.get(name)
    this.kept.delete(name)
    if (!kept) return
    clearTimeout(kept.timer)
    kept.release()
  }

  /** Resolves when every operation queued now has ended (a handover waits for them). */
  async settled(): Promise<void> {
    await Promise.all([...this.queues.values()].map((q) => q.catch(() => {})))
  }
}
