import { readFileSync } from 'node:fs'
import { expect, test, type Locator, type Page, type TestInfo } from '@playwright/test'
import { ADMIN, expectAccessible, login } from './helpers.ts'

// Run by infra/local/tests/ui/test_ui_models_e2e.py against a UI whose API is this checkout's,
// on the stack; every variable below is set there.
const USER = { username: process.env.E2E_USER ?? '', password: process.env.E2E_USER_PASSWORD ?? '' }
const GGUF_PATH = process.env.E2E_GGUF_PATH ?? ''
const MODEL = process.env.E2E_MODEL_NAME ?? ''

const modelRow = (page: Page, name = MODEL) => page.locator(`tr[data-model="${name}"]`)

/** At 1280 and 390 (the phone scrolled to `subject`, which the upload card would hide). */
async function screenshots(page: Page, testInfo: TestInfo, name: string, subject: Locator) {
  const dir = `${testInfo.project.outputDir}/screenshots`
  await page.screenshot({ path: `${dir}/${name}-1280.png` })
  await page.setViewportSize({ width: 390, height: 844 })
  await subject.evaluate((element) => element.scrollIntoView({ block: 'start' }))
  await page.screenshot({ path: `${dir}/${name}-390.png` })
  await page.setViewportSize({ width: 1280, height: 800 })
  await page.mouse.wheel(0, -100_000)
}

test('who may serve a model: private, shared, public; the owner edits it, others only see it', async ({ page, browser }, testInfo) => {
  await login(page, ADMIN.username, ADMIN.password)
  await page.goto('/models')
  await page.getByLabel('File', { exact: true }).setInputFiles({ name: 'tiny.gguf', mimeType: 'application/octet-stream', buffer: readFileSync(GGUF_PATH) })
  await page.getByLabel('Name', { exact: true }).fill(MODEL)
  await expect(page.getByLabel('Who may serve it', { exact: true })).toHaveValue('private')
  await page.getByRole('button', { name: 'Upload', exact: true }).click()
  await expect(page.getByRole('status')).toContainText(`Uploaded ${MODEL} (private)`)
  const row = modelRow(page)
  await expect(row.locator('td[data-label="Owner"]')).toHaveText('you')
  await expect(row.locator('td[data-label="Who may serve"]')).toHaveText('private')

  const userContext = await browser.newContext()
  const user = await userContext.newPage()
  await login(user, USER.username, USER.password)
  await user.goto('/models')
  await expect(modelRow(user, 'smollm2:135m')).toBeVisible()
  await expect(modelRow(user)).toHaveCount(0)

  // Shared: the admin's allowed namespaces are offered; the rules are checked before sending,
  // the API's refusal is shown under the namespaces.
  await row.getByRole('button', { name: `Sharing of ${MODEL}` }).click()
  const editor = page.getByRole('form', { name: `Who may serve ${MODEL}` })
  await expect(editor.getByRole('radio', { name: /Private/ })).toBeChecked()
  await editor.getByRole('radio', { name: /Shared/ }).check()
  await editor.getByRole('button', { name: 'Save' }).click()
  await expect(editor.locator('#sharing-namespaces-error')).toHaveText('choose at least one namespace to share with')
  const other = editor.getByLabel('Other namespaces', { exact: true })
  await other.fill('Team_A')
  await editor.getByRole('button', { name: 'Save' }).click()
  await expect(editor.locator('#sharing-namespaces-error')).toContainText('Team_A: not a namespace name')
  await other.fill(Array.from({ length: 65 }, (_, i) => `team-${i}`).join(' '))
  await editor.getByRole('button', { name: 'Save' }).click()
  await expect(editor.locator('#sharing-namespaces-error')).toContainText('at most 64')
  await other.fill('')
  await editor.getByRole('checkbox', { name: 'inference' }).check()
  await page.waitForLoadState('networkidle')
  await expectAccessible(page, '/models sharing editor')
  await screenshots(page, testInfo, 'models-sharing', editor)
  await editor.getByRole('button', { name: 'Save' }).click()
  await expect(page.getByRole('status').filter({ hasText: `${MODEL} is now shared with inference.` })).toBeVisible()
  await expect(editor).toHaveCount(0)
  await expect(row.locator('td[data-label="Who may serve"]')).toHaveText('shared with inference')

  // The user may serve in `inference` (the default allow-list): the model is listed, read-only.
  await user.reload()
  const userRow = modelRow(user)
  await expect(userRow.locator('td[data-label="Who may serve"]')).toHaveText('shared with inference')
  await expect(userRow.locator('td[data-label="Owner"]')).toHaveText('another user')
  await expect(userRow.getByRole('button')).toHaveCount(0)

  await row.getByRole('button', { name: `Sharing of ${MODEL}` }).click()
  await editor.getByRole('radio', { name: /Public/ }).check()
  await editor.getByRole('button', { name: 'Save' }).click()
  await expect(page.getByRole('status').filter({ hasText: `${MODEL} is now public.` })).toBeVisible()
  await expect(row.locator('td[data-label="Who may serve"]')).toHaveText('public')
  await page.waitForLoadState('networkidle')
  await expectAccessible(page, '/models (admin)')
  await screenshots(page, testInfo, 'models-visibility', page.locator('.table-wrap'))

  await user.reload()
  await expect(modelRow(user).locator('td[data-label="Who may serve"]')).toHaveText('public')
  await expect(modelRow(user).getByRole('button')).toHaveCount(0)
  await user.waitForLoadState('networkidle')
  await expectAccessible(user, '/models (user)')
  await screenshots(user, testInfo, 'models-user', user.locator('.table-wrap'))

  // The serve form offers what the user may serve; made private meanwhile, the serve is refused
  // with the contract's model_not_allowed message.
  await user.goto('/servers')
  const picker = user.getByLabel('Model', { exact: true })
  await expect(picker.locator('option', { hasText: MODEL })).toHaveCount(1)
  await picker.selectOption(MODEL)
  await row.getByRole('button', { name: `Sharing of ${MODEL}` }).click()
  await editor.getByRole('radio', { name: /Private/ }).check()
  await editor.getByRole('button', { name: 'Save' }).click()
  await expect(page.getByRole('status').filter({ hasText: `${MODEL} is now private.` })).toBeVisible()
  await user.getByRole('button', { name: 'Serve' }).click()
  await expect(user.getByRole('alert')).toContainText(`model '${MODEL}' is private`)
  await user.goto('/servers')
  await expect(user.getByLabel('Model', { exact: true }).locator('option', { hasText: MODEL })).toHaveCount(0)

  await page.emulateMedia({ colorScheme: 'dark' })
  await page.reload()
  await expect(modelRow(page)).toBeVisible()
  await expectAccessible(page, '/models (dark)')
  await row.getByRole('button', { name: `Sharing of ${MODEL}` }).click()
  await editor.getByRole('radio', { name: /Shared/ }).check()
  await expectAccessible(page, '/models sharing editor (dark)')
  await page.screenshot({ path: `${testInfo.project.outputDir}/screenshots/models-sharing-dark-1280.png` })
  await userContext.close()
})
