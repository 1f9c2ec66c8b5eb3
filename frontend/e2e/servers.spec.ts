import { expect, test, type APIRequestContext, type Page } from '@playwright/test'
import { ADMIN, expectAccessible, login, screenshots } from './helpers.ts'

const SERVE_MODEL = process.env.E2E_SERVE_MODEL ?? 'smollm2:135m'
const CONTRACT_URL = process.env.CONTRACT_URL ?? ''

async function token(request: APIRequestContext, username: string, password: string): Promise<string> {
  const reply = await request.post('/_/api/auth/token', { data: { username, password } })
  expect(reply.status()).toBe(200)
  return (await reply.json()).access_token as string
}

async function newUser(request: APIRequestContext, admin: string): Promise<{ username: string; password: string }> {
  const username = `e2e-srv-${Date.now()}-${Math.random().toString(36).slice(2, 6)}`
  const password = `pw-${Math.random().toString(36).slice(2)}-long-enough`
  const created = await request.post('/_/api/users', { data: { username, password, role: 'user' }, headers: { Authorization: `Bearer ${admin}` } })
  expect(created.status()).toBe(201)
  return { username, password }
}

async function openDetail(page: Page, name: string) {
  await page.getByRole('button', { name: `Details of ${name}` }).click()
  return page.getByTestId('server-detail')
}

test('a server: events, logs that follow across tab and page switches, scale 1→2→1 with a refusal, visibility; a namespace member only reads it', async ({
  page,
  browser,
  request,
}, testInfo) => {
  test.skip(!CONTRACT_URL, 'CONTRACT_URL not set')
  const admin = await token(request, ADMIN.username, ADMIN.password)
  const owner = await newUser(request, admin)
  const member = await newUser(request, admin)
  // The owner may run 2 replicas of a server: a 3rd is the contract service's refusal.
  const contract = await request.put(`${CONTRACT_URL}/contracts/users/${owner.username}`, {
    data: { max_replicas_per_server: 2 },
    headers: { Authorization: `Bearer ${admin}` },
  })
  expect(contract.status()).toBe(200)

  await login(page, owner.username, owner.password)
  await page.goto('/servers')
  await page.getByLabel('Model', { exact: true }).selectOption(SERVE_MODEL)
  await page.getByLabel('Runtime parameters', { exact: true }).fill('--ctx-size 2048')
  await page.getByRole('button', { name: 'Serve' }).click()
  const started = page.getByRole('status').filter({ hasText: 'Started' })
  await expect(started).toBeVisible()
  const uuid = ((await started.locator('code').textContent()) ?? '').replace(/\//g, '')
  const ownerToken = await token(request, owner.username, owner.password)
  try {
    const row = page.locator(`tr[data-server="${uuid}"]`)
    const name = (await row.locator('strong').textContent()) ?? ''
    await expect(row.getByText('Ready', { exact: true })).toBeVisible({ timeout: 240_000 })

    // Events: the operator's story, newest first, with ages.
    const detail = await openDetail(page, name)
    const events = detail.getByRole('tabpanel', { name: 'Events' })
    await expect(events.getByRole('cell', { name: 'Ready', exact: true }).first()).toBeVisible({ timeout: 30_000 })
    await expect(events.getByTitle(`ModelServe/${name}`).first()).toHaveText('ModelServe')
    await expect(events).toContainText(/\d+[smhd]/)
    await expectAccessible(page, 'server events')
    await screenshots(page, testInfo, 'servers-detail-events', row)

    // Logs: llama.cpp's own lines, followed.
    await detail.getByRole('tab', { name: 'Logs' }).click()
    const log = detail.getByTestId('log')
    await expect(log).toContainText(/llama_|server is listening|srv /, { timeout: 30_000 })
    await expect(detail.getByRole('status').filter({ hasText: 'Following' })).toBeVisible()
    await expectAccessible(page, 'server logs')
    await screenshots(page, testInfo, 'servers-detail-logs', detail.getByRole('tablist'))
    const shown = (await log.textContent()) ?? ''

    // A tab switch and a visit to another page keep the lines, and following resumes.
    await detail.getByRole('tab', { name: 'Events' }).click()
    await detail.getByRole('tab', { name: 'Logs' }).click()
    await expect(log).toContainText(shown.split('\n')[0])
    await page.getByRole('link', { name: 'Models' }).click()
    await expect(page.getByRole('heading', { name: 'Models', level: 1 })).toBeVisible()
    await page.getByRole('link', { name: 'Servers' }).click()
    await expect(page.getByTestId('server-detail')).toBeVisible()
    await page.getByTestId('server-detail').getByRole('tab', { name: 'Logs' }).click()
    await expect(log).toContainText(shown.split('\n')[0])
    await expect(detail.getByRole('status').filter({ hasText: 'Following' })).toBeVisible()

    // Scale: bad input is caught here, the contract's refusal is shown with its rule.
    const replicas = detail.getByLabel('Replicas', { exact: true })
    await replicas.fill('two')
    await detail.getByRole('button', { name: 'Scale' }).click()
    await expect(detail.getByRole('alert').filter({ hasText: 'whole number from 0 to 64' })).toBeVisible()
    await replicas.fill('3')
    await detail.getByRole('button', { name: 'Scale' }).click()
    await expect(detail.getByRole('alert').filter({ hasText: 'replicas_per_server_exceeded' })).toBeVisible()
    await expect(row.getByRole('cell', { name: '1/1' })).toBeVisible()

    await replicas.fill('2')
    await detail.getByRole('button', { name: 'Scale' }).click()
    await expect(row.getByRole('cell', { name: /^\d\/2$/ })).toBeVisible({ timeout: 30_000 })
    await expect(detail.getByText(/of 2 ready/)).toBeVisible()
    // The second pod shows in the log chooser, whether it runs or waits for room (Pending).
    const pods = detail.getByLabel('Pod', { exact: true }).locator('option')
    await expect(pods).toHaveCount(3, { timeout: 30_000 })
    await expect(pods.nth(1)).toHaveText(/\((Pending|Running)/)
    await expect(pods.nth(2)).toHaveText(/\((Pending|Running)/)
    await screenshots(page, testInfo, 'servers-detail-scaled', row)

    await detail.getByLabel('Replicas', { exact: true }).fill('1')
    await detail.getByRole('button', { name: 'Scale' }).click()
    await expect(row.getByRole('cell', { name: '1/1' })).toBeVisible({ timeout: 60_000 })

    // Visibility: shared with the namespace, the member sees it read-only.
    await detail.getByLabel('Who may use it', { exact: true }).selectOption('namespace')
    await detail.getByRole('button', { name: 'Change' }).click()
    await expect(detail.getByText('Namespace: every user allowed in its namespace')).toBeVisible()
    await expect(detail.getByRole('button', { name: 'Change' })).toBeDisabled()

    const memberContext = await browser.newContext({ viewport: { width: 1280, height: 800 } })
    const memberPage = await memberContext.newPage()
    try {
      await login(memberPage, member.username, member.password)
      await memberPage.goto('/servers')
      const shared = memberPage.locator(`tr[data-server="${uuid}"]`)
      await expect(shared).toContainText('shared')
      await expect(shared.getByRole('button', { name: /^Stop / })).toHaveCount(0)
      const readOnly = await openDetail(memberPage, name)
      await expect(readOnly.getByTestId('visibility')).toHaveText('Namespace: every user allowed in its namespace')
      await expect(readOnly.getByLabel('Replicas', { exact: true })).toHaveCount(0)
      await expect(readOnly.getByLabel('Who may use it', { exact: true })).toHaveCount(0)
      await expect(readOnly.getByRole('cell', { name: 'Ready', exact: true }).first()).toBeVisible()
      await expectAccessible(memberPage, 'server detail, read-only')
      await screenshots(memberPage, testInfo, 'servers-detail-shared', shared)
      const refused = await memberPage.request.patch(`/_/api/servers/${uuid}`, {
        data: { replicas: 2 },
        headers: { Authorization: `Bearer ${await token(request, member.username, member.password)}` },
      })
      expect(refused.status()).toBe(403)

      // Private again: gone from the member's list.
      await detail.getByLabel('Who may use it', { exact: true }).selectOption('private')
      await detail.getByRole('button', { name: 'Change' }).click()
      await expect(detail.getByText('Private: its owner and admins')).toBeVisible()
      await memberPage.reload()
      await expect(memberPage.getByRole('heading', { name: 'Servers', level: 1 })).toBeVisible()
      await expect(shared).toHaveCount(0, { timeout: 15_000 })
    } finally {
      await memberContext.close()
    }

    await page.emulateMedia({ colorScheme: 'dark' })
    await expectAccessible(page, 'server detail (dark)')
    await row.evaluate((element) => element.scrollIntoView({ block: 'start' }))
    await page.screenshot({ path: `${testInfo.project.outputDir}/screenshots/servers-detail-dark-1280.png` })
    await page.emulateMedia({ colorScheme: 'light' })

    await row.getByRole('button', { name: /^Stop / }).click()
    await expect(row).toHaveCount(0, { timeout: 60_000 })
  } finally {
    // A failed run must not leave its server on the shared stack.
    await request.delete(`/_/api/stop/${uuid}`, { headers: { Authorization: `Bearer ${ownerToken}` } })
  }
})
