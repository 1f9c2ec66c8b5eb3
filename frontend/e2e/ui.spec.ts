import { expect, test } from '@playwright/test'
import { readFileSync } from 'node:fs'
import { ADMIN, expectAccessible, login, screenshots } from './helpers.ts'

const SERVE_MODEL = process.env.E2E_SERVE_MODEL ?? 'smollm2:135m'
const GGUF_PATH = process.env.E2E_GGUF_PATH ?? ''

test.describe.configure({ mode: 'serial' })

test('the login page is accessible and refuses a bad password with the API message', async ({ page }, testInfo) => {
  await page.goto('/servers')
  await expect(page).toHaveURL(/\/login/)
  await expectAccessible(page, 'login')
  await screenshots(page, testInfo, 'login')
  await page.getByLabel('Username', { exact: true }).fill(ADMIN.username)
  await page.getByLabel('Password', { exact: true }).fill('not-the-password')
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByRole('alert')).toContainText(/invalid|incorrect|username or password/i)
})

test('every page passes axe and is captured at 1280 and 390 px', async ({ page }, testInfo) => {
  await login(page, ADMIN.username, ADMIN.password)
  for (const [path, heading] of [
    ['/models', 'Models'],
    ['/servers', 'Servers'],
    ['/playground', 'Playground'],
    ['/gpus', 'GPUs and nodes'],
    ['/keys', 'API keys'],
    ['/users', 'Users'],
  ] as const) {
    await page.goto(path)
    await expect(page.getByRole('heading', { name: heading, level: 1 })).toBeVisible()
    await page.waitForLoadState('networkidle')
    await expectAccessible(page, path)
    await screenshots(page, testInfo, path.slice(1))
  }
  await page.emulateMedia({ colorScheme: 'dark' })
  for (const path of ['/models', '/servers', '/playground', '/gpus', '/keys', '/users']) {
    await page.goto(path)
    await page.waitForLoadState('networkidle')
    await expectAccessible(page, `${path} (dark)`)
    await page.screenshot({ path: `${testInfo.project.outputDir}/screenshots${path}-dark-1280.png` })
  }
  await page.emulateMedia({ colorScheme: 'light' })
  await page.goto('/gpus')
  await expect(page.getByText('simulated', { exact: true }).first()).toBeVisible()
  await expect(page.getByText(/not reported \(simulated node\)/).first()).toBeVisible()
})

test('upload a GGUF with progress, then delete it', async ({ page }) => {
  test.skip(!GGUF_PATH, 'E2E_GGUF_PATH not set')
  const name = `e2e-${Date.now()}`
  await login(page, ADMIN.username, ADMIN.password)
  await page.goto('/models')
  await page.getByLabel('File', { exact: true }).setInputFiles({ name: 'tiny.gguf', mimeType: 'application/octet-stream', buffer: readFileSync(GGUF_PATH) })
  await page.getByLabel('Name', { exact: true }).fill(name)
  await page.getByRole('button', { name: 'Upload', exact: true }).click()
  await expect(page.getByRole('status')).toContainText(`Uploaded ${name}`)
  const row = page.getByRole('row').filter({ hasText: name })
  await expect(row).toContainText('llama')
  page.once('dialog', (dialog) => void dialog.accept())
  await row.getByRole('button', { name: `Delete ${name}` }).click()
  await expect(row).toHaveCount(0)
})

test('serve: bad runtime params show the API message inline; serve, Ready, chat streamed, stop', async ({ page }, testInfo) => {
  await login(page, ADMIN.username, ADMIN.password)
  await page.goto('/servers')
  await page.getByLabel('Model', { exact: true }).selectOption(SERVE_MODEL)
  await page.getByLabel('Runtime parameters', { exact: true }).fill('--bogus-flag 1')
  await page.getByRole('button', { name: 'Serve' }).click()
  await expect(page.locator('#serve-params-error')).toContainText('--bogus-flag')
  await expect(page.getByLabel('Runtime parameters', { exact: true })).toHaveAttribute('aria-invalid', 'true')

  await page.getByLabel('Replicas', { exact: true }).fill('0')
  await page.getByRole('button', { name: 'Serve' }).click()
  await expect(page.locator('#serve-replicas-error')).toContainText('whole number from 1')

  await page.getByLabel('Replicas', { exact: true }).fill('1')
  await page.getByLabel('Runtime parameters', { exact: true }).fill('--ctx-size 2048')
  await page.getByRole('button', { name: 'Serve' }).click()
  const started = page.getByRole('status').filter({ hasText: 'Started' })
  await expect(started).toBeVisible()
  const endpoint = (await started.locator('code').textContent()) ?? ''
  const uuid = endpoint.replace(/\//g, '')
  try {
    const row = page.locator(`tr[data-server="${uuid}"]`)
    await expect(row.getByText('Ready', { exact: true })).toBeVisible({ timeout: 240_000 })
    await screenshots(page, testInfo, 'servers-ready')

    await page.goto('/playground')
    await expect(page.getByLabel('Model', { exact: true })).toContainText(SERVE_MODEL, { timeout: 60_000 })
    await page.getByLabel('Model', { exact: true }).selectOption(SERVE_MODEL)
    await page.getByLabel('System prompt', { exact: true }).fill('Answer in one short sentence.')
    await page.getByLabel('Max tokens', { exact: true }).fill('32')
    await page.getByLabel('Message', { exact: true }).fill('What is the capital of France?')
    await page.getByRole('button', { name: 'Send' }).click()
    // Clear is enabled once the stream has ended (it is disabled while one runs).
    await expect(page.getByRole('button', { name: 'Clear' })).toBeEnabled({ timeout: 120_000 })
    await expect(page.getByTestId('stats')).toContainText('tokens/s')
    await expect(page.getByTestId('answer')).not.toHaveText('')
    await expect(page.getByTestId('stats')).toContainText(/TTFT \d+ ms/)
    for (const [flavour, path] of [
      ['OpenAI', '/v1/chat/completions'],
      ['Ollama', '/api/chat'],
      ['Anthropic', '/v1/messages'],
    ] as const) {
      await page.getByLabel(flavour, { exact: true }).check()
      await expect(page.getByTestId('curl')).toContainText(path)
    }
    await expectAccessible(page, 'playground with an answer')
    await screenshots(page, testInfo, 'playground-answer')

    await page.goto('/servers')
    await row.getByRole('button', { name: /^Stop / }).click()
    await expect(row).toHaveCount(0, { timeout: 60_000 })
  } finally {
    // A failed run must not leave its server on the shared stack.
    const session = await page.evaluate(() => sessionStorage.getItem('inference.session'))
    const token = session ? (JSON.parse(session) as { token: string }).token : ''
    await page.request.delete(`/_/api/stop/${uuid}`, { headers: { Authorization: `Bearer ${token}` } })
  }
})

test('create an API key (shown once), then revoke it', async ({ page }, testInfo) => {
  await login(page, ADMIN.username, ADMIN.password)
  await page.goto('/keys')
  const name = `e2e-key-${Date.now()}`
  await page.getByLabel('Name', { exact: true }).fill(name)
  await page.getByRole('button', { name: 'Create key' }).click()
  await expect(page.getByTestId('new-key')).toHaveText(/.{20,}/)
  await screenshots(page, testInfo, 'keys-created')
  const row = page.getByRole('row').filter({ hasText: name })
  await row.getByRole('button', { name: `Revoke ${name}` }).click()
  await expect(row).toContainText('revoked')
  await page.reload()
  await expect(page.getByTestId('new-key')).toHaveCount(0)
})

test('a non-admin sees no admin pages', async ({ page, request }) => {
  const token = (
    await (await request.post('/_/api/auth/token', { data: { username: ADMIN.username, password: ADMIN.password } })).json()
  ).access_token as string
  const username = `e2e-user-${Date.now()}`
  const password = `pw-${Math.random().toString(36).slice(2)}-long-enough`
  const created = await request.post('/_/api/users', { data: { username, password, role: 'user' }, headers: { Authorization: `Bearer ${token}` } })
  expect(created.status()).toBe(201)
  await login(page, username, password)
  const nav = page.getByRole('navigation', { name: 'Main' })
  await expect(nav.getByRole('link', { name: 'Models' })).toBeVisible()
  await expect(nav.getByRole('link', { name: 'Users' })).toHaveCount(0)
  await page.goto('/users')
  await expect(page).toHaveURL(/\/models$/)
})

test('an expired session signs out with a message; the token is never in localStorage', async ({ page }) => {
  await login(page, ADMIN.username, ADMIN.password)
  expect(await page.evaluate(() => Object.keys(localStorage).length)).toBe(0)
  await page.evaluate(() => {
    const session = JSON.parse(sessionStorage.getItem('inference.session')!)
    sessionStorage.setItem('inference.session', JSON.stringify({ ...session, expiresAt: Date.now() + 7_000 }))
  })
  await page.reload()
  await expect(page.getByRole('heading', { name: 'Dashboard', level: 1 })).toBeVisible()
  await expect(page.getByRole('status').filter({ hasText: 'Your session expired' })).toBeVisible({ timeout: 15_000 })
  await expect(page).toHaveURL(/\/login/)
  expect(await page.evaluate(() => sessionStorage.getItem('inference.session'))).toBeNull()
})
