// What an administrator manages beyond users' settings, and the live badge
// and mount chooser, in Debian's Chromium. The administrator run.sh creates
// (NIMBUS_ADMIN_USER) adds two users of this run, erin and finn; erin
// shares a workspace with finn, whose open pages (one of no workspace, one
// of his files) show the invitation in the navigation's badge at once,
// without a reload, and lose it when erin cancels. finn has more folders
// than a list shows and finds one by searching to accept a new invitation
// into it. The administrator deletes erin, choosing that her shared
// workspace goes to finn (the page makes no choice for them); registers an
// OAuth application whose secret is shown once, and removes it; and
// revokes finn's public link. Each page is checked with axe-core, in light
// and dark mode and at phone width, with no Content-Security-Policy
// violation.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import {
  accessibilityProblems, addUser, launch, lookAt, newPage, signIn, url, violations,
} from './support.mjs';

const admin = process.env.NIMBUS_ADMIN_USER;
const tag = randomBytes(3).toString('hex');
const erin = `erin${tag}`;
const finn = `finn${tag}`;
const team = `Team ${tag}`;

/** @type {import('playwright-core').Browser} */
let browser;
/** @type {import('playwright-core').Page} */
let adminPage;
/** @type {import('playwright-core').Page} */
let erinPage;
/** @type {import('playwright-core').Page} */
let finnPage;

/** The user's default workspace id, from the home page's first workspace. */
async function defaultWorkspace(page) {
  await page.goto(`${url}/`);
  const href = await page.locator('a.workspace').first().getAttribute('href');
  return href?.split('/')[2] ?? '';
}

before(async () => {
  browser = await launch();
  adminPage = await newPage(browser);
  await signIn(adminPage, admin);
  for (const user of [erin, finn]) await addUser(adminPage, user);
  erinPage = await newPage(browser);
  await signIn(erinPage, erin);
  finnPage = await newPage(browser);
  await signIn(finnPage, finn);
});

after(async () => {
  await browser?.close();
});

/** Invites finn to erin's workspace from its sharing page, as an editor. */
async function invite(sharingPath) {
  await erinPage.goto(`${url}${sharingPath}`);
  await erinPage.getByLabel('User names or e-mail addresses').fill(finn);
  await erinPage.getByLabel('Editor: can change files').check();
  await erinPage.getByRole('button', { name: 'Send invitation' }).click();
  await erinPage.getByRole('status').filter({ hasText: 'Sent' }).waitFor();
}

let sharingPath = '';

test('the invitations badge of every open page follows at once', async () => {
  // finn has two pages open: one of no workspace and one of his files.
  await finnPage.goto(`${url}/account`);
  const filesTab = await finnPage.context().newPage();
  await filesTab.goto(`${url}/files/${await defaultWorkspace(filesTab)}`);
  for (const page of [finnPage, filesTab]) {
    await page.locator('html[data-live-state="open"]').waitFor({ state: 'attached' });
    await page.evaluate(() => { globalThis.sameDocument = true; });
  }
  const badge = (page) => page.getByRole('navigation', { name: 'Account' })
    .getByRole('link', { name: /Sharing 1 invitation waiting/ });

  await erinPage.goto(`${url}/sharing`);
  await erinPage.getByLabel('New workspace to share').fill(team);
  await erinPage.getByRole('button', { name: 'Create' }).click();
  await erinPage.getByRole('heading', { name: `Sharing of ${team}` }).waitFor();
  sharingPath = new URL(erinPage.url()).pathname;
  const sent = Date.now();
  await invite(sharingPath);
  await badge(finnPage).waitFor({ timeout: 5_000 });
  const shown = Date.now() - sent;
  await badge(filesTab).waitFor({ timeout: 5_000 });
  console.log(`invitation sent (form posted and answered) to the badge showing it: ${shown} ms`);
  assert.ok(shown < 5_000, `${shown} ms`);

  // erin cancels: the badges go, still without a reload.
  await erinPage.getByRole('button', { name: `Cancel invitation of ${finn}` }).click();
  await erinPage.getByRole('status').filter({ hasText: 'cancelled' }).waitFor();
  for (const page of [finnPage, filesTab]) {
    await badge(page).waitFor({ state: 'detached', timeout: 5_000 });
    assert.equal(await page.evaluate(() => globalThis.sameDocument), true, 'the page was not reloaded');
  }
  await filesTab.close();
  assert.deepEqual(violations, []);
});

test('finn finds one of more folders than a list shows and accepts into it', async () => {
  // 60 folders: the list offers the first 50 by path.
  const workspace = await defaultWorkspace(finnPage);
  await finnPage.goto(`${url}/files/${workspace}`);
  const made = await finnPage.evaluate(async (path) => {
    const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';
    const statuses = [];
    for (let n = 0; n < 60; n += 1) {
      const body = new URLSearchParams({ csrf, parent: '', name: `Folder ${String(n).padStart(2, '0')}` });
      const response = await fetch(`${path}/new-folder`, { method: 'POST', body, redirect: 'manual' });
      statuses.push(response.type === 'opaqueredirect' ? 303 : response.status);
    }
    return statuses;
  }, `/files/${workspace}`);
  assert.deepEqual([...new Set(made)], [303]);

  await invite(sharingPath);
  await finnPage.goto(`${url}/sharing`);
  const card = finnPage.locator('.cards li', { hasText: team });
  const list = card.getByLabel('In the folder');
  assert.equal(await list.locator('option', { hasText: 'Folder 57' }).count(), 0, 'not among the first');
  assert.equal(await list.locator('option[disabled]').innerText(), '10 more folders: type part of the name above');
  await card.getByLabel('Find a folder').fill('folder 57');
  await list.locator('option', { hasText: 'Folder 57' }).waitFor({ state: 'attached' });
  await list.selectOption({ label: 'Folder 57' });
  await lookAt(finnPage, 'invitation-folder-search');
  await card.getByRole('button', { name: /^Accept/ }).click();
  await finnPage.getByRole('heading', { name: team }).waitFor();

  await finnPage.goto(`${url}/sharing`);
  const mounted = finnPage.locator('.workspaces li', { hasText: team });
  await mounted.getByText('Rename or move its folder').click();
  const chosen = mounted.getByLabel('In the folder');
  assert.equal(await chosen.locator('option:checked').innerText(), 'Folder 57');
  assert.deepEqual(await accessibilityProblems(finnPage), []);
});

test('an administrator deletes erin after choosing where her shared workspace goes', async () => {
  const page = adminPage;
  await page.goto(`${url}/admin`);
  await page.getByRole('link', { name: `Delete… ${erin}` }).click();
  await page.getByRole('heading', { name: `Delete ${erin}` }).waitFor();
  const decision = page.getByRole('group', { name: new RegExp(team) });
  await decision.getByLabel(`Hand it to ${finn}`).waitFor();
  assert.equal(await page.locator('input[type=radio]:checked').count(), 0, 'no choice is made for the administrator');
  await lookAt(page, 'admin-delete-user');

  // Never one click: without a choice and the name typed, nothing is sent.
  const deleteButton = page.getByRole('button', { name: `Delete ${erin} for good` });
  await deleteButton.click();
  assert.match(page.url(), /\/delete$/);
  await page.getByLabel(`Type the user name, ${erin}, to confirm`).fill(erin);
  await deleteButton.click();
  assert.match(page.url(), /\/delete$/, 'a shared workspace needs its decision');
  await decision.getByLabel(`Hand it to ${finn}`).check();
  await deleteButton.click();
  await page.getByRole('status').filter({ hasText: 'The user was deleted' }).waitFor();
  assert.equal(await page.locator('ul.users li', { hasText: erin }).count(), 0);

  // The workspace is finn's now; erin's session is over.
  await finnPage.goto(`${url}/files/${sharingPath.split('/')[2]}/sharing`);
  await finnPage.getByRole('heading', { name: `Sharing of ${team}` }).waitFor();
  assert.match(await finnPage.locator('main').innerText(), /owner/);
  const ended = await erinPage.goto(`${url}/`);
  assert.match(ended?.url() ?? '', /\/signin/);

  await page.goto(`${url}/admin/audit?user=${erin}`);
  assert.match(await page.locator('ul.audit').innerText(), /user-delete/);
  assert.deepEqual(violations, []);
});

test('an administrator registers an application, sees its secret once, and removes it', async () => {
  const page = adminPage;
  const name = `Photo frame ${tag}`;
  await page.goto(`${url}/admin/overview`);
  await page.getByLabel('Application name, as users will see it').fill(name);
  await page.getByLabel(/Callback URL/).fill('https://frame.example/back');
  await page.getByRole('button', { name: 'Register application' }).click();
  await page.getByRole('heading', { name: `${name} is registered` }).waitFor();
  const key = await page.getByLabel('Consumer key').inputValue();
  const secret = await page.getByLabel('Consumer secret').inputValue();
  assert.match(key, /^ock_/);
  assert.ok(secret.length >= 32, secret);
  await lookAt(page, 'admin-application-registered');

  await page.goto(`${url}/admin/overview`);
  const card = page.locator('ul.applications li', { hasText: name });
  assert.match(await card.innerText(), new RegExp(key));
  assert.ok(!(await page.content()).includes(secret), 'the secret is shown only once');
  await card.getByText('Remove…').click();
  await card.getByRole('button', { name: `Remove ${name} and end its tokens` }).click();
  await page.getByRole('status').filter({ hasText: 'application was removed' }).waitFor();
  assert.equal(await page.locator('ul.applications li', { hasText: name }).count(), 0);
  assert.deepEqual(await accessibilityProblems(page), []);
});

test("an administrator revokes finn's public link", async () => {
  const workspace = await defaultWorkspace(finnPage);
  await finnPage.goto(`${url}/links/new?workspace=${workspace}&item=`);
  await finnPage.getByRole('button', { name: 'Make the link' }).click();
  const link = await finnPage.getByLabel('Address of the new link').inputValue();
  const visitor = await newPage(browser);
  assert.equal((await visitor.goto(link))?.status(), 200);

  const page = adminPage;
  await page.goto(`${url}/admin/overview`);
  await page.getByLabel('Made by').fill(finn);
  await page.getByRole('button', { name: 'Show' }).click();
  const cards = page.locator('ul.links li');
  assert.ok((await cards.count()) >= 1);
  for (const text of await cards.allInnerTexts()) assert.match(text, new RegExp(`by ${finn}`));
  await lookAt(page, 'admin-overview-links');
  await cards.first().getByRole('button', { name: /^Revoke/ }).click();
  await page.getByRole('status').filter({ hasText: 'The link was revoked' }).waitFor();
  assert.equal((await visitor.goto(link))?.status(), 404);
  assert.deepEqual(violations, []);
});
