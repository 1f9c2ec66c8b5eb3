import { expect, test, type APIRequestContext, type Page } from '@playwright/test'
import { ADMIN, expectAccessible, login, screenshots } from './helpers.ts'

// Run by infra/local/tests/ui/test_ui_dashboard_e2e.py: an API of the checkout reading the
// stack's Prometheus, a UI server in front of it and the stack's gateway.
const SERVE_MODEL = process.env.E2E_SERVE_MODEL ?? 'smollm2:135m'
const LOCAL_NODE = process.env.E2E_LOCAL_NODE ?? 'local-node'

test.describe.configure({ mode: 'serial' })

async function adminToken(request: APIRequestContext): Promise<string> {
  const answer = await request.post('/_/api/auth/token', { data: { username: ADMIN.username, password: ADMIN.password } })
  expect(answer.status()).toBe(200)
  return ((await answer.json()) as { access_token: string }).access_token
}

/** A streamed chat: the gateway times the first token of a stream (TTFT panels). */
async function chat(request: APIRequestContext, token: string): Promise<void> {
  const answer = await request.post('/_/gateway/v1/chat/completions', {
    data: { model: SERVE_MODEL, messages: [{ role: 'user', content: 'Say hi.' }], max_tokens: 4, stream: true },
    headers: { Authorization: `Bearer ${token}` },
    timeout: 60_000,
  })
  expect(answer.status(), await answer.text()).toBe(200)
}

async function seriesCount(page: Page, key: string): Promise<number> {
  return page.getByTestId(`panel-${key}`).getByRole('listitem').count()
}

test('the dashboard shows the platform score, and request panels after a chat through the gateway', async ({ page, request }, testInfo) => {
  test.setTimeout(600_000) // a new llama.cpp server's start on a busy machine, then Prometheus' scrapes
  const token = await adminToken(request)
  const served = await request.post('/_/api/serve', {
    data: { model_name: SERVE_MODEL, replicas: 1, runtime_params: '--ctx-size 1024' },
    headers: { Authorization: `Bearer ${token}` },
  })
  expect(served.status(), await served.text()).toBe(201)
  const uuid = ((await served.json()) as { server_uuid: string }).server_uuid
  try {
    await login(page, ADMIN.username, ADMIN.password)
    await expect(page).toHaveURL(/\/dashboard$/)
    await expect(page.getByTestId('platform-score')).toHaveText(/^\d{1,3} \/ 100$/)

    await expect
      .poll(
        async () => {
          const answer = await request.get(`/_/api/servers/${uuid}`, { headers: { Authorization: `Bearer ${token}` } })
          return ((await answer.json()) as { phase: string }).phase
        },
        { timeout: 240_000, intervals: [2_000] },
      )
      .toBe('Ready')

    // Each try chats once more: Prometheus (15 s scrapes) sees a rate only after an increase
    // between two of its scrapes.
    await expect
      .poll(
        async () => {
          await chat(request, token)
          await page.reload()
          await expect(page.getByRole('heading', { name: 'Traffic and GPUs' })).toBeVisible()
          const counts = await Promise.all(['requests', 'ttft_p50', 'ttft_p95', 'tokens'].map((k) => seriesCount(page, k)))
          // this test's chats, not only older traffic of the window: a rate above zero now
          const rate = page.getByTestId('panel-requests').getByRole('listitem').filter({ hasText: SERVE_MODEL }).locator('.series-value')
          const latest = (await rate.count()) ? await rate.textContent() : ''
          return counts.every((n) => n > 0) && /[1-9]/.test(latest ?? '')
        },
        { timeout: 180_000, intervals: [5_000] },
      )
      .toBe(true)
    await expect(page.getByTestId('panel-requests').getByRole('listitem').filter({ hasText: SERVE_MODEL })).toHaveCount(1)
    await expect(page.getByTestId('panel-requests')).toContainText(/\d req\/s/)
    await expect(page.getByTestId('panel-gpu_utilization')).toContainText('Not reported')
    await expect(page.getByTestId('server-count')).toHaveText(/^\d+ servers? scored$/)
    // styled at laptop width too, not only on a phone
    await expect(page.getByTestId('panel-requests').locator('ul.series')).toHaveCSS('list-style-type', 'none')
    await expect(page.getByTestId('platform-score').locator('.score-value')).toHaveCSS('font-weight', '700')

    await expectAccessible(page, 'dashboard')
    await screenshots(page, testInfo, 'dashboard')
    await page.emulateMedia({ colorScheme: 'dark' })
    await expectAccessible(page, 'dashboard (dark)')
    await page.screenshot({ path: `${testInfo.project.outputDir}/screenshots/dashboard-dark-1280.png` })
    await page.emulateMedia({ colorScheme: 'light' })

    await page.getByLabel('Window', { exact: true }).selectOption('1h')
    await expect(page.getByTestId('panel-requests').getByRole('listitem').filter({ hasText: SERVE_MODEL })).toHaveCount(1)
  } finally {
    // the server must not outlive the test on the shared stack
    await request.delete(`/_/api/stop/${uuid}`, { headers: { Authorization: `Bearer ${token}` } })
  }
})

test('the GPUs page marks the local node and the simulated ones "not reported"', async ({ page }, testInfo) => {
  await login(page, ADMIN.username, ADMIN.password)
  await page.goto('/gpus')
  await expect(page.getByRole('heading', { name: 'GPUs and nodes', level: 1 })).toBeVisible()
  await expect(page.getByTestId(`live-${LOCAL_NODE}`)).toHaveText('not reported (no per-card GPU series from this node)')
  await expect(page.getByText('not reported (simulated node)').first()).toBeVisible()
  await page.waitForLoadState('networkidle')
  await expectAccessible(page, 'gpus')
  await screenshots(page, testInfo, 'gpus')
  await page.emulateMedia({ colorScheme: 'dark' })
  await expectAccessible(page, 'gpus (dark)')
  await page.screenshot({ path: `${testInfo.project.outputDir}/screenshots/gpus-dark-1280.png` })
})

test('a non-admin lands on the dashboard with capacity, without the admin panels', async ({ page, request }) => {
  const token = await adminToken(request)
  const username = `e2e-dash-${Date.now()}`
  const password = `pw-${Math.random().toString(36).slice(2)}-long-enough`
  const created = await request.post('/_/api/users', { data: { username, password, role: 'user' }, headers: { Authorization: `Bearer ${token}` } })
  expect(created.status()).toBe(201)
  await login(page, username, password)
  await expect(page.getByText('shown to admins')).toBeVisible()
  await expect(page.getByRole('heading', { name: 'GPU capacity' })).toBeVisible()
  await expect(page.getByTestId('platform-score')).toHaveCount(0)
  await expectAccessible(page, 'dashboard (user)')
})
