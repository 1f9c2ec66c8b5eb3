import { defineConfig } from '@playwright/test'

// Runs against a UI the caller started (UI_URL); infra/local/tests/ui/test_ui_e2e.py starts one
// on the stack. Debian's chromium: Playwright's own browser download is not used.
export default defineConfig({
  testDir: './e2e',
  outputDir: process.env.E2E_OUTPUT_DIR ?? './test-results',
  timeout: 300_000,
  expect: { timeout: 15_000 },
  workers: 1,
  fullyParallel: false,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: process.env.UI_URL ?? 'http://127.0.0.1:5173',
    viewport: { width: 1280, height: 800 },
    launchOptions: { executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' },
    trace: 'retain-on-failure',
  },
})
