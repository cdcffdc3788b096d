/**
 * The network's host programs (ip, nft, unshare, nsenter, sysctl), run through exec.ts, the one
 * place that runs programs. It is loaded when first needed: an activator that holds no veth or
 * private container never loads it, and none of it is on the wake path.
 */
export async function runProgram(argv: readonly string[], input?: string): Promise<string> {
  const {run} = await import('../exec.js')
  return (await run(argv, {input, timeoutMs: 10_000})).stdout
}
