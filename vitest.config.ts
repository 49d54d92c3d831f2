import { defineConfig } from "vitest/config"

export default defineConfig({
  test: {
    include: ["packages/**/test/**/*.test.ts", "test/**/*.test.ts"],
    // Integration tests start real servers and write real files; give them room on 2 cores.
    testTimeout: 30_000,
    hookTimeout: 120_000,
  },
})
