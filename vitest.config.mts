import { defineConfig } from 'vitest/config';

// Two projects: unit tests run anywhere in seconds; e2e tests need the lab
// (test/lab/lab.sh up) and run the built bundle inside the runner namespace.
export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'unit',
          include: ['test/unit/**/*.test.ts'],
          environment: 'node',
          // @actions/workflow-parser imports its schema JSON without an import
          // attribute, which Node 20 refuses; vite transforms it when inlined.
          server: { deps: { inline: [/@actions\/workflow-parser/] } },
        },
      },
      {
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          environment: 'node',
          // Real hosts: one suite at a time, since suites share the lab.
          fileParallelism: false,
          testTimeout: 600_000,
          hookTimeout: 900_000,
        },
      },
    ],
  },
});
