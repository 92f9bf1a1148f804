// The web UI in Debian's Chromium: sign in, browse into a folder a desktop
// client synced, download and compare bytes, accessibility (axe-core),
// phone width and dark mode, sign out. run.sh starts the servers and sets
// NIMBUS_URL, NIMBUS_USER, NIMBUS_PASSWORD, NIMBUS_FOLDER (the synced
// folder's name) and NIMBUS_FIXTURE (a local copy of its data.bin).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import {
  accessibilityProblems, launch, newPage, password, reloadUntil, screenshots, url, violations, watch,
} from './support.mjs';

const user = process.env.NIMBUS_USER;
const folder = process.env.NIMBUS_FOLDER;
const fixture = process.env.NIMBUS_FIXTURE;

/** @type {import('playwright-core').Browser} */
let browser;
/** @type {import('playwright-core').Page} */
let page;

before(async () => {
  browser = await launch();
  page = await newPage(browser, { acceptDownloads: true });
});

after(async () => {
  await browser?.close();
});

test('signing in: a wrong password is explained, the right one opens the files', async () => {
  await page.goto(`${url}/`);
  await page.waitForURL(/\/signin/);
  assert.deepEqual(await accessibilityProblems(page), []);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill('not the password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('alert').waitFor();
  assert.match(await page.getByRole('alert').innerText(), /password/i);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { name: 'Your files' }).waitFor();
  await page.screenshot({ path: `${screenshots}/workspaces-desktop.png` });
  assert.deepEqual(await accessibilityProblems(page), []);
});

test('browsing into a folder a desktop client synced, with the keyboard', async () => {
  await page.locator('a.workspace').first().click();
  const link = page.getByRole('link', { name: folder, exact: true });
  await reloadUntil(page, link);
  await link.click();
  await page.getByRole('heading', { name: folder }).waitFor();
  await reloadUntil(page, page.locator('a.item'), 2);
  assert.ok(page.url().includes('/files/'), page.url());
  const names = await page.locator('a.item').allInnerTexts();
  assert.deepEqual(names.sort(), ['data.bin', 'hello.txt']);
  const crumbs = await page.getByRole('navigation', { name: 'Breadcrumbs' }).innerText();
  assert.ok(crumbs.includes(folder), crumbs);
  // Arrow keys move through the list.
  await page.locator('body').press('ArrowDown');
  const first = await page.evaluate(() => document.activeElement?.textContent);
  await page.keyboard.press('ArrowDown');
  const second = await page.evaluate(() => document.activeElement?.textContent);
  assert.notEqual(first, second);
  assert.deepEqual([first, second].sort(), ['data.bin', 'hello.txt']);
  // Sorting by size puts the big file last.
  await page.getByRole('link', { name: 'Size' }).click();
  await page.locator('th.col-size[aria-sort="ascending"]').waitFor();
  assert.deepEqual(await page.locator('a.item').allInnerTexts(), ['hello.txt', 'data.bin']);
  await page.screenshot({ path: `${screenshots}/folder-desktop.png`, fullPage: true });
  assert.deepEqual(await accessibilityProblems(page), []);
});

test('a downloaded file is byte for byte the one the desktop synced', async () => {
  const [download] = await Promise.all([
    page.waitForEvent('download'),
    page.getByRole('link', { name: 'Download data.bin' }).click(),
  ]);
  const saved = await download.path();
  assert.ok(saved);
  const got = await readFile(saved);
  const expected = await readFile(fixture);
  assert.equal(got.length, expected.length);
  assert.ok(got.equals(expected), 'the bytes differ');
  // Text opens inline, in a sandbox.
  const href = await page.getByRole('link', { name: 'hello.txt', exact: true }).getAttribute('href');
  const response = await page.request.get(`${url}${href}`);
  assert.equal(response.status(), 200);
  assert.equal(await response.text(), 'hello from the desktop\n');
  assert.match(response.headers()['content-security-policy'], /^sandbox/);
  assert.equal(response.headers()['x-content-type-options'], 'nosniff');
});

test('a new folder is created, renamed and deleted from the page', async () => {
  await page.getByText('New folder', { exact: true }).click();
  await page.getByLabel('Name of the new folder').fill('Trip notes');
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('link', { name: 'Trip notes', exact: true }).waitFor();
  await page.getByLabel('Actions for Trip notes').click();
  await page.getByLabel('New name for Trip notes').fill('Trip diary');
  await page.getByRole('button', { name: 'Rename' }).click();
  await page.getByRole('link', { name: 'Trip diary', exact: true }).waitFor();
  assert.equal(await page.getByRole('link', { name: 'Trip notes', exact: true }).count(), 0);
  await page.getByLabel('Actions for Trip diary').click();
  await page.screenshot({ path: `${screenshots}/folder-actions.png` });
  await page.getByRole('button', { name: 'Delete folder and its contents' }).click();
  await page.getByRole('link', { name: 'Trip diary', exact: true }).waitFor({ state: 'detached' });
  assert.deepEqual((await page.locator('a.item').allInnerTexts()).sort(), ['data.bin', 'hello.txt']);
});

test('the account page lists this browser and is accessible', async () => {
  await page.getByRole('link', { name: user, exact: true }).click();
  await page.getByRole('heading', { name: 'Account' }).waitFor();
  assert.ok(await page.getByText('this browser').count());
  assert.ok(await page.getByText(/used of/).count());
  await page.screenshot({ path: `${screenshots}/account-desktop.png`, fullPage: true });
  assert.deepEqual(await accessibilityProblems(page), []);
});

test('phone width and dark mode: nothing overflows sideways', async () => {
  const phone = await browser.newContext({
    viewport: { width: 375, height: 740 },
    deviceScaleFactor: 1,
    isMobile: true,
    hasTouch: true,
    colorScheme: 'dark',
    storageState: await page.context().storageState(),
  });
  const small = watch(await phone.newPage());
  await small.goto(page.url().replace(/\/account$/, '/'));
  await small.locator('a.workspace').first().click();
  await small.getByRole('link', { name: folder, exact: true }).click();
  await small.getByRole('heading', { name: folder }).waitFor();
  const overflow = await small.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `the page is ${overflow}px wider than the phone`);
  const background = await small.evaluate(() => getComputedStyle(document.body).backgroundColor);
  assert.equal(background, 'rgb(20, 23, 29)', 'dark mode follows the system');
  await small.screenshot({ path: `${screenshots}/folder-phone-dark.png`, fullPage: true });
  assert.deepEqual(await accessibilityProblems(small), []);
  await phone.close();
});

test('signing out ends the session', async () => {
  await page.getByRole('button', { name: 'Sign out', exact: true }).click();
  await page.waitForURL(/\/signin$/);
  await page.goto(`${url}/account`);
  await page.waitForURL(/\/signin\?next=%2Faccount$/);
  await page.screenshot({ path: `${screenshots}/signin.png` });
  assert.deepEqual(violations, [], 'no Content-Security-Policy violation');
});
