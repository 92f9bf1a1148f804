// What the browser tests share: Debian's Chromium, signing in, the
// Content-Security-Policy violations the pages report, axe's accessibility
// check and screenshots in light, dark and phone shapes. run.sh sets
// NIMBUS_URL and NIMBUS_PASSWORD; screenshots go to $SCREENSHOTS.
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

export const url = process.env.NIMBUS_URL;
export const password = process.env.NIMBUS_PASSWORD;
export const screenshots = process.env.SCREENSHOTS ?? '/tmp/nimbus-web-screenshots';
mkdirSync(screenshots, { recursive: true });
const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

/** Content-Security-Policy violations the watched pages reported; every test file asserts it stays empty. */
export const violations = [];

/** Debian's Chromium (or $CHROMIUM). */
export function launch() {
  return chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
}

/** Records `page`'s Content-Security-Policy violations in `violations`. */
export function watch(page) {
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) violations.push(message.text());
  });
  return page;
}

/** A watched page of a new context of `browser`, desktop-sized unless `options` say otherwise. */
export async function newPage(browser, options = {}) {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1, ...options,
  });
  return watch(await context.newPage());
}

/** Signs `page` in as `user`, on to the home page. */
export async function signIn(page, user) {
  await page.goto(`${url}/signin`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Your files' }).waitFor();
}

/** Adds the user `name`, with the run's password, from the administrator's `page`. */
export async function addUser(page, name) {
  await page.goto(`${url}/admin`);
  const form = page.locator('section[aria-labelledby="add-heading"]');
  await form.getByLabel('User name').fill(name);
  await form.getByLabel('Password').fill(password);
  await form.getByRole('button', { name: 'Add user' }).click();
  await page.getByRole('status').filter({ hasText: 'was added' }).waitFor();
}

/** Serious or critical axe violations of `page` as it is now. */
export async function accessibilityProblems(page) {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
}

/** Screenshots of the page in light and dark mode and at phone width, each checked. */
export async function lookAt(page, name) {
  assert.deepEqual(await accessibilityProblems(page), [], name);
  await page.screenshot({ path: `${screenshots}/${name}.png`, fullPage: true });
  await page.emulateMedia({ colorScheme: 'dark' });
  assert.deepEqual(await accessibilityProblems(page), [], `${name} in dark mode`);
  await page.screenshot({ path: `${screenshots}/${name}-dark.png`, fullPage: true });
  await page.setViewportSize({ width: 375, height: 740 });
  const width = await page.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 376, `${name} fits a phone (${width} px wide)`);
  await page.screenshot({ path: `${screenshots}/${name}-phone-dark.png`, fullPage: true });
  await page.emulateMedia({ colorScheme: 'light' });
  await page.screenshot({ path: `${screenshots}/${name}-phone.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
}

/** Opens the signed-in user's default workspace at its top folder. */
export async function openTop(page) {
  await page.goto(`${url}/`);
  await page.locator('a.workspace').first().click();
  await page.getByRole('button', { name: 'Search' }).waitFor();
}

/** The link to the file or folder `name` in the folder `page` shows. */
export function item(page, name) {
  return page.getByRole('link', { name, exact: true });
}

/** Makes the folder `name` in the folder `page` shows. */
export async function newFolder(page, name) {
  await page.getByText('New folder', { exact: true }).click();
  await page.getByLabel('Name of the new folder').fill(name);
  await page.getByRole('button', { name: 'Create' }).click();
  await item(page, name).waitFor();
}

/**
 * Reloads `page` until `locator` matches at least `count` elements, for at
 * most a minute: what a desktop client syncs may still be on its way.
 */
export async function reloadUntil(page, locator, count = 1) {
  for (let tries = 0; tries < 60 && (await locator.count()) < count; tries += 1) {
    await page.waitForTimeout(1000);
    await page.reload();
  }
}
