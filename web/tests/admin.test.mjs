// The administration pages in Debian's Chromium, as the administrator run.sh
// creates (NIMBUS_ADMIN_USER): the users with their usage, adding a user and
// setting a quota, the audit log showing both, the overview and the service
// health; each page with no serious accessibility problem and no
// Content-Security-Policy violation, and the users page at phone width.
// A user who is not an administrator sees no link to them and is refused.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  accessibilityProblems, launch, newPage, screenshots, signIn, url, violations,
} from './support.mjs';

const admin = process.env.NIMBUS_ADMIN_USER;
const user = process.env.NIMBUS_USER;

/** @type {import('playwright-core').Browser} */
let browser;

before(async () => {
  browser = await launch();
});

after(async () => {
  await browser?.close();
});

async function signedIn(name, viewport = { width: 1280, height: 800 }) {
  const page = await newPage(browser, { viewport });
  await signIn(page, name);
  return page;
}

test('an administrator adds a user, sets a quota and reads the log and the health', async () => {
  const page = await signedIn(admin);
  await page.getByRole('link', { name: 'Administration' }).click();
  await page.getByRole('heading', { name: 'Users' }).waitFor();
  const list = page.locator('ul.users');
  assert.match(await list.innerText(), new RegExp(user));
  assert.deepEqual(await accessibilityProblems(page), []);

  const added = `carla${Date.now() % 100000}`;
  const form = page.locator('section[aria-labelledby="add-heading"]');
  await form.getByLabel('User name').fill(added);
  await form.getByLabel('Password').fill('carla password 1');
  await form.getByLabel('Quota (GiB)').fill('3');
  await form.getByRole('button', { name: 'Add user' }).click();
  await page.getByRole('status').filter({ hasText: 'was added' }).waitFor();
  const card = list.locator('li').filter({ hasText: added });
  assert.match(await card.innerText(), /of 3(\.0)? GiB/);

  await card.getByLabel('Quota (GiB)').fill('7');
  await card.getByRole('button', { name: `Set quota of ${added}` }).click();
  await page.getByRole('status').filter({ hasText: 'quota was set' }).waitFor();
  assert.match(await list.locator('li').filter({ hasText: added }).innerText(), /of 7(\.0)? GiB/);
  await page.screenshot({ path: `${screenshots}/admin-users.png`, fullPage: true });

  await page.getByRole('link', { name: 'Audit log' }).click();
  await page.getByLabel('User', { exact: true }).fill(added);
  await page.getByRole('button', { name: 'Show' }).click();
  const log = await page.locator('ul.audit').innerText();
  assert.match(log, /user-quota/);
  assert.match(log, /user-add/);
  assert.doesNotMatch(log, /carla password/);
  assert.deepEqual(await accessibilityProblems(page), []);
  await page.screenshot({ path: `${screenshots}/admin-audit.png`, fullPage: true });

  await page.getByRole('link', { name: 'Applications, invitations, links' }).click();
  await page.getByRole('heading', { name: 'OAuth applications' }).waitFor();
  assert.deepEqual(await accessibilityProblems(page), []);

  await page.getByRole('link', { name: 'Service health' }).click();
  const health = await page.locator('dl.health').innerText();
  const servers = Number(/(\d+)\s+consuming/.exec(health)?.[1]);
  assert.ok(servers >= 1, health);
  assert.match(health, /answering/);
  assert.deepEqual(await accessibilityProblems(page), []);
  await page.screenshot({ path: `${screenshots}/admin-health.png`, fullPage: true });

  const phone = await signedIn(admin, { width: 375, height: 740 });
  await phone.goto(`${url}/admin`);
  const width = await phone.evaluate(() => document.documentElement.scrollWidth);
  assert.ok(width <= 375, `the users page fits a phone (${width} px wide)`);
  await phone.screenshot({ path: `${screenshots}/admin-users-phone.png`, fullPage: true });
  assert.deepEqual(violations, []);
});

test('a user who is not an administrator gets no administration', async () => {
  const page = await signedIn(user);
  assert.equal(await page.getByRole('link', { name: 'Administration' }).count(), 0);
  const response = await page.goto(`${url}/admin`);
  assert.equal(response.status(), 403);
});
