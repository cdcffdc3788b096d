/**
 * The network's host programs (ip, nft, unshare, nsenter, sysctl), run through exec.ts, the one
 * place that runs programs. It is loaded when first needed: an activator that holds no veth or
 * private container never loads it, and none of it is on the wake path.
 */
export async function runProgram(argv: readonly string[], input?: string): Promise<string> {
  const {run} = await import('../exec.js')
  return (await run(argv, {input, timeoutMs: 10_000})).stdout
}

/** What runs a host program in the network namespace NETNS (a bound namespace file): nsenter joins it and execs the program (same pid). */
export function netnsPrefix(netns: string): string[] {
  return ['nsenter', `--net=${netns}`, '--']
}
