// "Delete forever" from the trash in Debian's Chromium: a deleted folder is
// deleted forever after the row's confirmation step, and the trash and the
// account pages tell how long deleted items and old versions are kept.
// Works in a folder of its own ("Purge test"), since the other test files
// run at the same time against the same user. run.sh sets NIMBUS_URL,
// NIMBUS_USER and NIMBUS_PASSWORD.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { chromium } from 'playwright-core';

const url = process.env.NIMBUS_URL;
const user = process.env.NIMBUS_USER;
const password = process.env.NIMBUS_PASSWORD;
const screenshots = process.env.SCREENSHOTS ?? '/tmp/nimbus-web-screenshots';
mkdirSync(screenshots, { recursive: true });
const axeSource = await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

const mine = 'Purge test';
const doomed = 'Purge me';

/** @type {import('playwright-core').Browser} */
let browser;
/** @type {import('playwright-core').Page} */
let page;
/** Content-Security-Policy violations the pages reported. */
const violations = [];

before(async () => {
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox'],
  });
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, deviceScaleFactor: 1 });
  page = await context.newPage();
  page.on('console', (message) => {
    if (message.text().includes('Content Security Policy')) violations.push(message.text());
  });
  await page.goto(`${url}/signin`);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Your files' }).waitFor();
});

after(async () => {
  await browser?.close();
});

/** Serious or critical axe violations of the current page. */
async function accessibilityProblems() {
  await page.evaluate(axeSource);
  const result = await page.evaluate(() => globalThis.axe.run(document, { resultTypes: ['violations'] }));
  return result.violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).join(', ')})`);
}

function item(name) {
  return page.getByRole('link', { name, exact: true });
}

async function newFolder(name) {
  await page.getByText('New folder', { exact: true }).click();
  await page.getByLabel('Name of the new folder').fill(name);
  await page.getByRole('button', { name: 'Create' }).click();
  await item(name).waitFor();
}

test('a deleted folder is deleted forever from the trash after a confirmation', async () => {
  await page.goto(`${url}/`);
  await page.locator('a.workspace').first().click();
  await page.getByRole('button', { name: 'Search' }).waitFor();
  await newFolder(mine);
  await item(mine).click();
  await page.getByRole('heading', { name: mine }).waitFor();
  await newFolder(doomed);
  await page.getByLabel(`Actions for ${doomed}`).click();
  await page.getByRole('button', { name: 'Delete folder and its contents' }).click();
  await item(doomed).waitFor({ state: 'detached' });

  await page.getByRole('link', { name: 'Trash' }).click();
  await page.getByRole('heading', { name: /^Trash of / }).waitFor();
  await page.getByText(/stay here with all their versions for 30 days/).waitFor();
  const row = page.getByRole('row').filter({ hasText: doomed });
  // Nothing is deleted before the confirmation step is opened.
  const confirm = row.getByRole('button', { name: `Delete “${doomed}” forever` });
  assert.equal(await confirm.isVisible(), false);
  await row.getByText('Delete forever…').click();
  await row.getByText('This cannot be undone.').waitFor();
  await page.screenshot({ path: `${screenshots}/purge-confirm.png`, fullPage: true });
  assert.deepEqual(await accessibilityProblems(), []);
  await confirm.click();

  await page.getByRole('heading', { name: /^Trash of / }).waitFor();
  await page.getByRole('row').filter({ hasText: doomed }).waitFor({ state: 'detached' });
  await page.screenshot({ path: `${screenshots}/purge-done.png`, fullPage: true });

  await page.goto(`${url}/account`);
  await page.getByText(/stay in the trash for 30 days/).waitFor();
  assert.deepEqual(violations, []);
});
