// "Delete forever" from the trash in Debian's Chromium: a deleted folder is
// deleted forever after the row's confirmation step, and the trash and the
// account pages tell how long deleted items and old versions are kept.
// Works in a folder of its own ("Purge test"), since the other test files
// run at the same time against the same user. run.sh sets NIMBUS_URL,
// NIMBUS_USER and NIMBUS_PASSWORD.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accessibilityProblems, item, launch, newFolder, newPage, openTop, screenshots, signIn, url,
  violations,
} from './support.mjs';

const user = process.env.NIMBUS_USER;

const mine = 'Purge test';
const doomed = 'Purge me';

/** @type {import('playwright-core').Browser} */
let browser;
/** @type {import('playwright-core').Page} */
let page;

before(async () => {
  browser = await launch();
  page = await newPage(browser);
  await signIn(page, user);
});

after(async () => {
  await browser?.close();
});

test('a deleted folder is deleted forever from the trash after a confirmation', async () => {
  await openTop(page);
  await newFolder(page, mine);
  await item(page, mine).click();
  await page.getByRole('heading', { name: mine }).waitFor();
  await newFolder(page, doomed);
  await page.getByLabel(`Actions for ${doomed}`).click();
  await page.getByRole('button', { name: 'Delete folder and its contents' }).click();
  await item(page, doomed).waitFor({ state: 'detached' });

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
  assert.deepEqual(await accessibilityProblems(page), []);
  await confirm.click();

  await page.getByRole('heading', { name: /^Trash of / }).waitFor();
  await page.getByRole('row').filter({ hasText: doomed }).waitFor({ state: 'detached' });
  await page.screenshot({ path: `${screenshots}/purge-done.png`, fullPage: true });

  await page.goto(`${url}/account`);
  await page.getByText(/stay in the trash for 30 days/).waitFor();
  assert.deepEqual(violations, []);
});
