// Live updates in Debian's Chromium: changes made elsewhere (the desktop
// client syncing a folder, another tab creating or deleting folders) appear
// in an open folder page and in the trash page without a reload, and the
// focused item keeps the focus.
// run.sh sets NIMBUS_URL, NIMBUS_USER, NIMBUS_PASSWORD and NIMBUS_SYNC_DIR
// (the folder the desktop client syncs). Folder names here are this file's
// own: ui.test.mjs runs beside it as the same user.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import {
  launch, newPage, screenshots, signIn, url, violations,
} from './support.mjs';

const user = process.env.NIMBUS_USER;
const syncDir = process.env.NIMBUS_SYNC_DIR;
const folder = 'Live updates';

/** @type {import('playwright-core').Browser} */
let browser;
/** @type {import('playwright-core').Page} */
let page;

before(async () => {
  browser = await launch();
  page = await newPage(browser);
});

after(async () => {
  await browser?.close();
});

/** Marks the document, so that a reload (which loses the mark) is noticed. */
async function markDocument(p) {
  await p.evaluate(() => { globalThis.liveTestMark = 'not reloaded'; });
}

async function stillTheSameDocument(p) {
  return p.evaluate(() => globalThis.liveTestMark === 'not reloaded');
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

test('a folder the desktop client syncs appears in the open page without a reload', async () => {
  await signIn(page, user);
  await page.locator('a.workspace').first().click();
  await page.locator('html[data-live-state="open"]').waitFor({ state: 'attached' });
  await markDocument(page);

  const written = Date.now();
  await mkdir(join(syncDir, folder), { recursive: true });
  await writeFile(join(syncDir, folder, 'first note.txt'), 'written on the desktop\n');
  // The desktop client waits for the file system to settle, uploads, commits.
  await page.getByRole('link', { name: folder, exact: true }).waitFor({ timeout: 60_000 });
  console.log(`desktop write to visible in the open page: ${Date.now() - written} ms`);
  assert.ok(await stillTheSameDocument(page), 'the page was reloaded');
});

test('changes committed elsewhere show within a second, keeping the focus', async () => {
  await page.getByRole('link', { name: folder, exact: true }).click();
  await page.getByRole('heading', { name: folder }).waitFor();
  await page.getByRole('link', { name: 'first note.txt', exact: true }).waitFor({ timeout: 60_000 });
  await page.locator('html[data-live-state="open"]').waitFor({ state: 'attached' });
  await markDocument(page);
  // The keyboard selection: the first item has the focus.
  await page.locator('body').press('ArrowDown');
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'first note.txt');

  // Another tab of the same browser creates folders here: each POST
  // answers once its commit is done.
  const tab = await page.context().newPage();
  await tab.goto(page.url());
  const csrf = await tab.locator('meta[name="csrf-token"]').getAttribute('content');
  const parent = page.url().split('/').pop();
  const workspace = new URL(page.url()).pathname.split('/')[2];
  const timings = [];
  for (let round = 1; round <= 5; round += 1) {
    const name = `made in another tab ${round}`;
    const response = await tab.request.post(`${url}/files/${workspace}/new-folder`, {
      form: { csrf, parent, name },
      maxRedirects: 0,
    });
    const committed = Date.now();
    assert.equal(response.status(), 303);
    await page.getByRole('link', { name, exact: true }).waitFor({ timeout: 5_000 });
    timings.push(Date.now() - committed);
  }
  console.log(`commit to visible in the open page: median ${median(timings)} ms (${timings.join(', ')} ms)`);
  assert.ok(median(timings) < 1000, `median ${median(timings)} ms`);
  assert.ok(await stillTheSameDocument(page), 'the page was reloaded');
  assert.equal(
    await page.evaluate(() => document.activeElement?.textContent),
    'first note.txt',
    'the focused item keeps the focus',
  );
  await page.screenshot({ path: `${screenshots}/live-folder.png`, fullPage: true });
  await tab.close();
  assert.deepEqual(violations, [], 'no Content-Security-Policy violation');
});

test('the trash page shows what another tab deletes, keeping the focus', async () => {
  const workspace = new URL(page.url()).pathname.split('/')[2];
  const tab = await page.context().newPage();
  await tab.goto(page.url());
  const csrf = await tab.locator('meta[name="csrf-token"]').getAttribute('content');
  /** Deletes the folder `name` of the open folder from the other tab. */
  const deleteInTab = async (name) => {
    const href = await tab.getByRole('link', { name, exact: true }).getAttribute('href');
    const response = await tab.request.post(`${url}${href}/delete`, {
      form: { csrf }, maxRedirects: 0,
    });
    assert.equal(response.status(), 303);
  };
  await deleteInTab('made in another tab 1');
  await page.goto(`${url}/files/${workspace}/trash`);
  await page.locator('html[data-live-state="open"]').waitFor({ state: 'attached' });
  await markDocument(page);
  const restore = page.getByRole('button', { name: 'Restore made in another tab 1' });
  await restore.focus();
  await deleteInTab('made in another tab 2');
  await page.getByRole('button', { name: 'Restore made in another tab 2' }).waitFor({ timeout: 5_000 });
  assert.ok(await stillTheSameDocument(page), 'the page was reloaded');
  assert.equal(
    await page.evaluate(() => document.activeElement?.textContent),
    'Restore made in another tab 1',
    'the focused button keeps the focus',
  );
  // At phone width in dark mode the list fits the screen.
  await page.setViewportSize({ width: 375, height: 740 });
  await page.emulateMedia({ colorScheme: 'dark' });
  assert.ok(await page.evaluate(() => document.documentElement.scrollWidth <= 375 + 1));
  await page.screenshot({ path: `${screenshots}/live-trash-phone-dark.png`, fullPage: true });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: 'light' });
  await tab.close();
  assert.deepEqual(violations, [], 'no Content-Security-Policy violation');
});

test('signing out in another tab ends the live stream of the page', async () => {
  const tab = await page.context().newPage();
  await tab.goto(`${url}/`);
  await tab.getByRole('button', { name: 'Sign out', exact: true }).click();
  await tab.waitForURL(/\/signin$/);
  await page.locator('html[data-live-state="closed"]').waitFor({ state: 'attached', timeout: 10_000 });
  await page.locator('#live-notice').waitFor();
  await tab.close();
});
