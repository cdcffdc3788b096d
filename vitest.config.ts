import {defineConfig} from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts', 'test/**/*.test.tsx'],
    // Integration tests boot real containers on real ports and share one bootstrapped base:
    // one file at a time keeps them from fighting over the two cores and the ports.
    fileParallelism: false,
    globalSetup: ['test/global-setup.ts'],
    // New containers get the host's network unless a test says otherwise (the network suites do,
    // and test/integration/veth.test.ts tests the default, veth): a veth per container of every
    // suite would turn each suite into a network test.
    env: {CTR_NETWORK: process.env.CTR_NETWORK ?? 'host'},
    testTimeout: 120_000,
    hookTimeout: 600_000,
    reporters: ['default'],
  },
})
