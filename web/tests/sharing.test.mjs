// Sharing and public links in Debian's Chromium, two users in two browsers:
// alice (NIMBUS_USER) makes a workspace, uploads a file and shares it with
// bob (NIMBUS_SECOND_USER, same password); bob sees the invitation badge,
// accepts and sees the file; alice makes him a viewer and his upload is
// refused; alice removes him and the workspace is gone for him. Then a
// public link to the workspace is made, copied, opened by an anonymous
// visitor and revoked. Alice shares a folder of her own files: it stays
// where it was (marked shared), her desktop keeps its copy without
// downloading it again, and bob accepts and opens a file of it. Accessibility (axe-core), phone width in dark mode,
// and no Content-Security-Policy violation. run.sh starts the servers.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import {
  accessibilityProblems, launch, newPage, screenshots, signIn, url, violations,
} from './support.mjs';

const alice = process.env.NIMBUS_USER;
const bob = process.env.NIMBUS_SECOND_USER;
const tag = randomBytes(3).toString('hex');
const team = `Team ${tag}`;
const work = mkdtempSync(join(tmpdir(), 'nimbus-sharing-test-'));

/** @type {import('playwright-core').Browser} */
let browser;
/** @type {import('playwright-core').Page} */
let alicePage;
/** @type {import('playwright-core').Page} */
let bobPage;
/** The shared workspace's files page, `/files/{id}`. */
let teamPath = '';

before(async () => {
  browser = await launch();
  alicePage = await newPage(browser, { permissions: ['clipboard-read', 'clipboard-write'] });
  bobPage = await newPage(browser);
  await signIn(alicePage, alice);
  await signIn(bobPage, bob);
});

after(async () => {
  await browser?.close();
});

/** Picks a new file named `name` in the folder page's upload picker. */
async function pick(page, name) {
  const path = join(work, name);
  writeFileSync(path, `${name} by the sharing test\n`);
  await page.setInputFiles('#upload-files', path);
}

test('alice makes a workspace, puts a file in it and invites bob', async () => {
  const page = alicePage;
  await page.getByRole('link', { name: 'Sharing', exact: true }).click();
  await page.getByRole('heading', { name: 'Sharing', exact: true }).waitFor();
  await page.getByLabel('New workspace to share').fill(team);
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('heading', { name: `Sharing of ${team}` }).waitFor();
  await page.getByRole('link', { name: `← ${team}` }).click();
  await page.getByRole('heading', { name: team }).waitFor();
  teamPath = new URL(page.url()).pathname;
  await pick(page, 'plan.txt');
  await page.locator('a.item', { hasText: 'plan.txt' }).waitFor();

  await page.getByRole('navigation', { name: `More of ${team}` }).getByRole('link', { name: 'Sharing' }).click();
  await page.getByLabel('User names or e-mail addresses').fill(bob);
  await page.getByLabel('Editor: can change files').check();
  await page.getByLabel('Message (optional)').fill('The plans for next year');
  await page.getByRole('button', { name: 'Send invitation' }).click();
  await page.getByRole('status').filter({ hasText: 'Sent' }).waitFor();
  await page.getByRole('button', { name: `Cancel invitation of ${bob}` }).waitFor();
  await page.screenshot({ path: `${screenshots}/sharing-desktop.png`, fullPage: true });
  assert.deepEqual(await accessibilityProblems(page), []);
});

test('bob sees the invitation with its size and message, accepts it into a folder, and sees the file', async () => {
  const page = bobPage;
  // A folder of his own to put the workspace in.
  const shelf = `Shared ${tag}`;
  await page.goto(`${url}/`);
  await page.locator('a.workspace').first().click();
  await page.getByText('New folder', { exact: true }).click();
  await page.getByLabel('Name of the new folder').fill(shelf);
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('link', { name: shelf, exact: true }).waitFor();
  // Every page's navigation shows the invitations waiting.
  await page.goto(`${url}/account`);
  const nav = page.getByRole('navigation', { name: 'Account' });
  await nav.getByRole('link', { name: /Sharing 1 invitation waiting/ }).click();
  const card = page.locator('.cards li', { hasText: team });
  const text = await card.innerText();
  for (const expected of [alice, team, 'editor', 'The plans for next year', ' B ·']) {
    assert.ok(text.includes(expected), `${expected} in ${text}`);
  }
  await page.screenshot({ path: `${screenshots}/invitations-desktop.png`, fullPage: true });
  assert.deepEqual(await accessibilityProblems(page), []);
  await card.getByLabel('Name in your files (optional)').fill(`${team} from ${alice}`);
  await card.getByLabel('In the folder').selectOption({ label: shelf });
  await card.getByRole('button', { name: /^Accept/ }).click();
  await page.getByRole('heading', { name: `${team} from ${alice}` }).waitFor();
  assert.equal(new URL(page.url()).pathname, teamPath);
  await page.locator('a.item', { hasText: 'plan.txt' }).waitFor();

  // Later he renames his folder of it and moves it to the top.
  await page.goto(`${url}/sharing`);
  const mounted = page.locator('.workspaces li', { hasText: `${team} from ${alice}` });
  await mounted.getByText('Rename or move its folder').click();
  assert.equal(await mounted.getByLabel('In the folder').inputValue() !== '', true, 'mounted in the folder chosen');
  await mounted.getByLabel('Name in your files').fill(`${team} of ${alice}`);
  await mounted.getByLabel('In the folder').selectOption({ label: 'The top of your files' });
  await page.screenshot({ path: `${screenshots}/sharing-mount.png`, fullPage: true });
  assert.deepEqual(await accessibilityProblems(page), []);
  await mounted.getByRole('button', { name: /^Save/ }).click();
  await page.getByRole('status').filter({ hasText: 'new name and place' }).waitFor();
  await page.locator('.workspaces a.workspace', { hasText: `${team} of ${alice}` }).waitFor();
  await page.goto(`${url}${teamPath}`);
  await page.locator('#upload-files').waitFor({ state: 'attached' });
});

test('alice makes bob a viewer: his upload is refused', async () => {
  await alicePage.reload();
  await alicePage.getByLabel(`Role of ${bob}`).selectOption('viewer');
  await alicePage.getByRole('button', { name: `Change role of ${bob}` }).click();
  await alicePage.getByRole('status').filter({ hasText: 'role was changed' }).waitFor();
  // Bob's page still offers the picker it showed an editor: the proxy refuses.
  await pick(bobPage, 'from-bob.txt');
  const status = bobPage.locator('.upload-status').filter({ hasText: 'failed' });
  await status.waitFor();
  assert.match(await status.innerText(), /read-only/);
  await bobPage.reload();
  assert.equal(await bobPage.locator('#upload-files').count(), 0, 'a viewer gets no upload picker');
  assert.equal(await bobPage.locator('a.item', { hasText: 'from-bob.txt' }).count(), 0);
});

test('alice removes bob: the workspace is gone for him', async () => {
  await alicePage.reload();
  await alicePage.getByRole('button', { name: `Remove ${bob}` }).click();
  await alicePage.getByRole('status').filter({ hasText: 'removed' }).waitFor();
  assert.equal(await alicePage.getByRole('button', { name: `Remove ${bob}` }).count(), 0);
  const response = await bobPage.goto(`${url}${teamPath}`);
  assert.equal(response?.status(), 404);
  await bobPage.goto(`${url}/`);
  assert.equal(await bobPage.locator('a.workspace', { hasText: team }).count(), 0);
});

test('a public link is made, copied, opened by anyone and revoked', async () => {
  const page = alicePage;
  await page.goto(`${url}${teamPath}`);
  await page.getByRole('navigation', { name: `More of ${team}` }).getByRole('link', { name: 'Public link' }).click();
  await page.getByRole('heading', { name: `Public link to ${team}` }).waitFor();
  assert.deepEqual(await accessibilityProblems(page), []);
  await page.getByLabel('Expires after this many days (optional)').fill('7');
  await page.getByRole('button', { name: 'Make the link' }).click();
  const field = page.getByLabel('Address of the new link');
  const link = await field.inputValue();
  assert.match(link, /\/s\/[0-9a-f]+$/);
  await page.getByRole('button', { name: 'Copy link' }).click();
  await page.getByRole('status').filter({ hasText: 'Copied' }).waitFor();
  assert.equal(await page.evaluate(() => navigator.clipboard.readText()), link);
  await page.screenshot({ path: `${screenshots}/links-desktop.png`, fullPage: true });
  assert.deepEqual(await accessibilityProblems(page), []);

  const visitor = await newPage(browser);
  await visitor.goto(link);
  await visitor.getByRole('heading', { name: team }).waitFor();
  await visitor.locator('table.files', { hasText: 'plan.txt' }).waitFor();
  await visitor.screenshot({ path: `${screenshots}/link-anonymous.png`, fullPage: true });

  await page.goto(`${url}/links`);
  await page.getByRole('button', { name: `Revoke the link to ${team}` }).first().click();
  await page.getByRole('status').filter({ hasText: 'revoked' }).waitFor();
  const gone = await visitor.reload();
  assert.equal(gone?.status(), 404);
  await visitor.context().close();
});

/** Waits up to `seconds` for `check` to hold, polling every 200 ms. */
async function eventually(what, check, seconds = 30) {
  for (let waited = 0; waited < seconds * 1000; waited += 200) {
    if (check()) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.fail(`${what} within ${seconds} s`);
}

test('alice shares a folder of her files: it stays in place, her desktop keeps its copy, bob opens a file', async () => {
  const page = alicePage;
  const trip = `Trip ${tag}`;
  await page.goto(`${url}/`);
  await page.locator('a.workspace').first().click();
  const filesPath = new URL(page.url()).pathname;
  await page.getByText('New folder', { exact: true }).click();
  await page.getByLabel('Name of the new folder').fill(trip);
  await page.getByRole('button', { name: 'Create' }).click();
  await page.getByRole('link', { name: trip, exact: true }).click();
  await page.getByRole('heading', { name: trip }).waitFor();
  await pick(page, 'route.txt');
  await page.locator('a.item', { hasText: 'route.txt' }).waitFor();
  // The desktop syncing alice's files has the folder before it is shared.
  const onDesktop = join(process.env.NIMBUS_SYNC_DIR, trip, 'route.txt');
  await eventually('the desktop downloads route.txt', () => existsSync(onDesktop));
  const downloaded = statSync(onDesktop);

  await page.getByRole('link', { name: 'Share this folder' }).click();
  await page.getByRole('heading', { name: `Share ${trip}` }).waitFor();
  await page.screenshot({ path: `${screenshots}/share-folder-desktop.png`, fullPage: true });
  assert.deepEqual(await accessibilityProblems(page), []);
  await page.getByLabel('User names or e-mail addresses').fill(bob);
  await page.getByLabel('Viewer: can only see and download').check();
  await page.getByRole('button', { name: 'Send invitation' }).click();
  await page.getByRole('status').filter({ hasText: 'now a shared workspace' }).waitFor();
  await page.getByRole('heading', { name: `Sharing of ${trip}` }).waitFor();

  // Where it was in her files, marked as shared, opening the shared workspace.
  await page.goto(`${url}${filesPath}`);
  const row = page.locator('tr', { has: page.getByRole('link', { name: trip, exact: true }) });
  await row.locator('.badge', { hasText: 'shared' }).waitFor();
  await page.screenshot({ path: `${screenshots}/shared-folder-in-place.png`, fullPage: true });
  assert.deepEqual(await accessibilityProblems(page), []);
  await row.getByRole('link', { name: trip, exact: true }).click();
  await page.getByRole('heading', { name: trip }).waitFor();
  await page.locator('a.item', { hasText: 'route.txt' }).waitFor();

  // Her desktop mounts the new workspace on the folder it has and keeps
  // the file it holds: the same file, not downloaded again.
  await eventually('the desktop mounts the shared folder in place',
    () => existsSync(join(process.env.NIMBUS_SYNC_DIR, trip, '.nimbus', 'root-id')));
  await new Promise((resolve) => setTimeout(resolve, 3000));
  const kept = statSync(onDesktop);
  assert.equal(kept.ino, downloaded.ino, 'route.txt was not written again');
  assert.equal(kept.mtimeMs, downloaded.mtimeMs);

  // Bob accepts and opens the file.
  await bobPage.goto(`${url}/sharing`);
  const card = bobPage.locator('.cards li', { hasText: trip });
  await card.getByRole('button', { name: /^Accept/ }).click();
  await bobPage.getByRole('heading', { name: trip }).waitFor();
  const [opened] = await Promise.all([
    bobPage.waitForEvent('popup'),
    bobPage.locator('a.item', { hasText: 'route.txt' }).click(),
  ]);
  await opened.waitForLoadState();
  assert.equal((await opened.locator('body').innerText()).trim(), 'route.txt by the sharing test');
  await opened.close();
  await bobPage.goto(`${url}/`);
  await bobPage.locator('a.workspace').first().click();
  await bobPage.locator('tr', { hasText: trip }).locator('.badge', { hasText: 'shared with you' }).waitFor();
  await bobPage.screenshot({ path: `${screenshots}/shared-folder-member.png`, fullPage: true });
});

test('phone width and dark mode: the sharing pages fit and stay accessible', async () => {
  const phone = await newPage(browser, {
    viewport: { width: 375, height: 740 },
    isMobile: true,
    hasTouch: true,
    colorScheme: 'dark',
    storageState: await alicePage.context().storageState(),
  });
  for (const [path, name] of [[`${teamPath}/sharing`, 'sharing'], ['/sharing', 'invitations'], ['/links', 'links']]) {
    await phone.goto(`${url}${path}`);
    const overflow = await phone.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${path} is ${overflow}px wider than the phone`);
    const background = await phone.evaluate(() => getComputedStyle(document.body).backgroundColor);
    assert.equal(background, 'rgb(20, 23, 29)', 'dark mode follows the system');
    await phone.screenshot({ path: `${screenshots}/${name}-phone-dark.png`, fullPage: true });
    assert.deepEqual(await accessibilityProblems(phone), [], path);
  }
  // The share form is reachable with the keyboard alone.
  await phone.goto(`${url}${teamPath}/sharing`);
  await phone.getByLabel('User names or e-mail addresses').focus();
  await phone.keyboard.press('Tab');
  const focused = await phone.evaluate(() => document.activeElement?.getAttribute('value'));
  assert.equal(focused, 'editor');
  await phone.context().close();
  assert.deepEqual(violations, [], 'no Content-Security-Policy violation');
});
