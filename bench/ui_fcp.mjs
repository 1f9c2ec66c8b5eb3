// First contentful paint and time to the full table of the UI's servers page, in headless
// chromium. Called by bench/ui_bench.py: node bench/ui_fcp.mjs <ui-url> <token> <servers> <runs>
import { createRequire } from 'node:module'
import { fileURLToPath } from 'node:url'
import path from 'node:path'

const here = path.dirname(fileURLToPath(import.meta.url))
const require = createRequire(path.join(here, '..', 'frontend', 'package.json'))
const { chromium } = require('@playwright/test')

const [url, token, servers, runs] = [process.argv[2], process.argv[3], Number(process.argv[4]), Number(process.argv[5] ?? 5)]
const claims = JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString())
const session = { token, username: 'admin', role: 'admin', expiresAt: claims.exp * 1000 }

const browser = await chromium.launch({ executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium' })
const results = []
for (let i = 0; i < runs + 1; i++) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } })
  await context.addInitScript((s) => sessionStorage.setItem('inference.session', JSON.stringify(s)), session)
  const page = await context.newPage()
  const started = Date.now()
  await page.goto(`${url}/servers`)
  await page.locator('tbody tr').nth(servers - 1).waitFor({ timeout: 60_000 })
  const tableMs = Date.now() - started
  const timing = await page.evaluate(() => {
    const paint = performance.getEntriesByName('first-contentful-paint')[0]
    const nav = performance.getEntriesByType('navigation')[0]
    return { fcp: paint ? paint.startTime : null, domContentLoaded: nav.domContentLoadedEventEnd }
  })
  if (i > 0) results.push({ ...timing, tableMs }) // the first run warms the server's caches
  await context.close()
}
await browser.close()
console.log(JSON.stringify(results))
