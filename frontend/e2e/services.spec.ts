import { expect, test } from '@playwright/test'
import { ADMIN, expectAccessible, login, screenshots } from './helpers.ts'

// Run by infra/local/tests/ui/test_ui_services_e2e.py against a UI server routing to a contract
// service and a download service that test started; every variable below is set there.
const USER = { username: process.env.E2E_USER ?? '', password: process.env.E2E_USER_PASSWORD ?? '' }
const IMPORT_OK = process.env.E2E_IMPORT_OK ?? ''
const IMPORT_BIG = process.env.E2E_IMPORT_BIG ?? ''
const IMPORT_BROKEN = process.env.E2E_IMPORT_BROKEN ?? ''

test.describe.configure({ mode: 'serial' })

test('an admin sets a user max_servers, bad values are refused inline', async ({ page }, testInfo) => {
  await login(page, ADMIN.username, ADMIN.password)
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Quotas' }).click()
  await expect(page.getByRole('heading', { name: 'Quotas and usage', level: 1 })).toBeVisible()
  await expect(page.locator('[data-meter="servers"]')).toContainText(/0 of/)

  await page.getByLabel('Username', { exact: true }).fill(USER.username)
  await page.getByRole('button', { name: 'Load' }).click()
  const maxServers = page.getByLabel('Max servers', { exact: true })
  await expect(maxServers).toHaveValue('')
  await expect(page.locator('#contract-max_servers-hint')).toHaveText('default: 10')

  await maxServers.fill('many')
  await page.getByRole('button', { name: 'Save contract' }).click()
  await expect(page.locator('#contract-max_servers-error')).toHaveText(/whole number/)

  await maxServers.fill('3')
  await page.getByLabel('Max parallel', { exact: true }).fill('0') // the service's own rule: >= 1
  await page.getByRole('button', { name: 'Save contract' }).click()
  await expect(page.locator('#contract-max_parallel-error')).toContainText(/greater than or equal to 1/)

  await page.getByLabel('Max parallel', { exact: true }).fill('')
  await page.getByRole('button', { name: 'Save contract' }).click()
  await expect(page.getByRole('status')).toContainText(`Saved the contract of ${USER.username}`)
  await expect(page.locator(`[data-meter="servers"]`).last()).toContainText('0 of 3')
  await expect(page.locator('#contract-max_parallel-hint')).toHaveText('default: 32')

  await page.waitForLoadState('networkidle')
  await expectAccessible(page, '/quotas (admin)')
  await screenshots(page, testInfo, 'quotas')
})

test('the user sees the new limit and cannot edit contracts', async ({ page }, testInfo) => {
  await login(page, USER.username, USER.password)
  await page.goto('/quotas')
  await expect(page.getByRole('heading', { name: 'Your usage' })).toBeVisible()
  await expect(page.locator('[data-meter="servers"]')).toHaveText('0 of 3')
  await expect(page.getByRole('heading', { name: 'Contracts (admin)' })).toHaveCount(0)
  await expect(page.getByRole('button', { name: 'Save contract' })).toHaveCount(0)
  const status = await page.evaluate(async (username) => {
    const token = JSON.parse(sessionStorage.getItem('inference.session') ?? '{}').token as string
    const response = await fetch(`/_/contract/contracts/users/${encodeURIComponent(username)}`, {
      method: 'PUT',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify({ max_servers: 100 }),
    })
    return response.status
  }, USER.username)
  expect(status).toBe(403)
  await page.reload()
  await expect(page.locator('[data-meter="servers"]')).toHaveText('0 of 3')
  await page.waitForLoadState('networkidle')
  await expectAccessible(page, '/quotas (user)')
  await screenshots(page, testInfo, 'quotas-user')
})

test('imports: the offer, an import to Done with progress, a cancel', async ({ page }, testInfo) => {
  await login(page, ADMIN.username, ADMIN.password)
  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Imports' }).click()
  await expect(page.getByRole('heading', { name: 'Imports', level: 1 })).toBeVisible()
  const offered = page.getByRole('table', { name: 'Models offered by the quantization cluster' })
  await expect(offered.getByRole('row').filter({ hasText: IMPORT_OK })).toContainText('ready to import')
  await expect(offered.getByRole('row').filter({ hasText: IMPORT_BROKEN })).not.toContainText('ready to import')
  await expect(offered.getByRole('button', { name: `Import ${IMPORT_BROKEN}` })).toHaveCount(0)

  await offered.getByRole('button', { name: `Import ${IMPORT_OK}` }).click()
  const imports = page.getByRole('table', { name: 'Import jobs' })
  const done = imports.getByRole('row').filter({ hasText: IMPORT_OK })
  await expect(done).toContainText('Done', { timeout: 60_000 })
  await expect(done.getByTestId('job-summary')).toContainText('100%')

  const streams: string[] = []
  page.on('request', (request) => {
    if (request.url().includes('/_/download/status/') && request.url().endsWith('/events')) streams.push(request.url())
  })
  await offered.getByRole('button', { name: `Import ${IMPORT_BIG}` }).click()
  const big = imports.getByRole('row').filter({ hasText: IMPORT_BIG })
  await expect(big.locator('.files li')).toContainText(/big\.gguf — (pending|copying)/)
  await expect(big.getByTestId('job-summary')).toContainText(/left/)
  const before = streams.length
  expect(before).toBeGreaterThan(0)
  // The tab comes back: the stream reconnects and starts from a full snapshot.
  await page.evaluate("document.dispatchEvent(new Event('visibilitychange'))")
  await expect.poll(() => streams.length).toBeGreaterThan(before)
  await expect(big).toContainText('Copying')
  await page.screenshot({ path: `${testInfo.project.outputDir}/screenshots/imports-copying-1280.png` })
  await big.getByRole('button', { name: `Cancel ${IMPORT_BIG}` }).click()
  await expect(big).toContainText('Cancelled', { timeout: 60_000 })
  await expect(big.getByRole('button', { name: `Cancel ${IMPORT_BIG}` })).toHaveCount(0)
  await expectAccessible(page, '/imports')
  await screenshots(page, testInfo, 'imports')

  await page.getByRole('navigation', { name: 'Main' }).getByRole('link', { name: 'Models' }).click()
  await expect(page.getByRole('row').filter({ hasText: IMPORT_OK })).toContainText('llama')
})

test('both pages pass axe in the dark scheme', async ({ page }, testInfo) => {
  await login(page, ADMIN.username, ADMIN.password)
  await page.emulateMedia({ colorScheme: 'dark' })
  for (const [path, heading] of [
    ['/quotas', 'Quotas and usage'],
    ['/imports', 'Imports'],
  ] as const) {
    await page.goto(path)
    await expect(page.getByRole('heading', { name: heading, level: 1 })).toBeVisible()
    await page.waitForLoadState('networkidle')
    await expectAccessible(page, `${path} (dark)`)
    await page.screenshot({ path: `${testInfo.project.outputDir}/screenshots${path}-dark-1280.png` })
  }
})
