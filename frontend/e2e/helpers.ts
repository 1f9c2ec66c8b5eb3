import { AxeBuilder } from '@axe-core/playwright'
import { expect, type Locator, type Page, type TestInfo } from '@playwright/test'

export const ADMIN = { username: process.env.ADMIN_USERNAME ?? 'admin', password: process.env.ADMIN_PASSWORD ?? '' }

export async function login(page: Page, username: string, password: string) {
  await page.goto('/login')
  await page.getByLabel('Username', { exact: true }).fill(username)
  await page.getByLabel('Password', { exact: true }).fill(password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await expect(page.getByRole('heading', { name: 'Dashboard', level: 1 })).toBeVisible()
}

/** axe-core on the page as it is: no serious or critical violation. */
export async function expectAccessible(page: Page, name: string) {
  const results = await new AxeBuilder({ page }).analyze()
  const bad = results.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
  expect(bad.map((v) => `${name}: ${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)).toEqual([])
}

/** A screenshot of the viewport at laptop and phone size, under the test output's screenshots/;
 * `top`: scrolled so that this element starts the view. */
export async function screenshots(page: Page, testInfo: TestInfo, name: string, top?: Locator) {
  const dir = `${testInfo.project.outputDir}/screenshots`
  for (const [label, size] of [
    ['1280', { width: 1280, height: 800 }],
    ['390', { width: 390, height: 844 }],
  ] as const) {
    await page.setViewportSize(size)
    await top?.evaluate((element) => element.scrollIntoView({ block: 'start' }))
    await page.screenshot({ path: `${dir}/${name}-${label}.png` })
  }
  await page.setViewportSize({ width: 1280, height: 800 })
}
