import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    globalSetup: ['test/global-setup.ts'],
    // Safety bounds only: process tests start real `roomcast` processes, which take seconds on a busy host.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    // Two test files at a time. Vitest's default on a 2-core host is one (cores − 1), and most of
    // the suite waits on processes, sockets and timers rather than using its core: one fork ran
    // the whole suite in ~14.5 min on a quiet host (fresh-clone run 3, 885 s of vitest).
    maxWorkers: 2,
    minWorkers: 1,
    reporters: ['default'],
    // One suite, both brokers: the redis project re-runs the socket-level suites with every
    // service's broker on a real redis-server (test/helpers/redis-global-setup.ts).
    projects: [
      { extends: true, test: { name: 'memory', include: ['test/**/*.test.ts'] } },
      {
        extends: true,
        test: {
          name: 'redis',
          include: ['test/integration/**/*.test.ts', 'test/services/**/*.test.ts'],
          // Suites of the socket front end whose tests never depend on the broker (TLS, handshake
          // and per-IP admission, inbound budget, keepalive, HTTP timeouts, log redaction, /health
          // visibility): a Redis broker under them shows nothing the memory project does not.
          exclude: [
            'test/integration/connections-per-ip.test.ts',
            'test/integration/inbound-budget.test.ts',
            'test/integration/keepalive-one-way.test.ts',
            'test/integration/log-redaction.test.ts',
            'test/integration/public-health.test.ts',
            'test/integration/request-timeout.test.ts',
            'test/integration/tls.test.ts',
            'test/integration/upgrade-release.test.ts',
          ],
          globalSetup: ['test/helpers/redis-global-setup.ts'],
        },
      },
    ],
  },
})
