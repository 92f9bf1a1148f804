// Organizing files in Debian's Chromium: copy with the folder chooser,
// rename, move, delete, restore from the trash, the keyboard's shortcuts
// (F2, Escape, Delete, ?), a folder copied whole, and restore a version of
// a file the desktop client changed. Works in folders of its own ("Organize
// test" in the web, "Organize sync" synced), since the other test files run
// at the same time against the same user. run.sh sets NIMBUS_URL,
// NIMBUS_USER, NIMBUS_PASSWORD, NIMBUS_FOLDER (a synced folder with
// hello.txt) and NIMBUS_SYNC_DIR (the desktop client's synced directory).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, mkdir, writeFile } from 'node:fs/promises';
import {
  accessibilityProblems, item, launch, newFolder, newPage, openTop, reloadUntil, screenshots, signIn, url,
  violations,
} from './support.mjs';

const user = process.env.NIMBUS_USER;
const synced = process.env.NIMBUS_FOLDER;
const syncDir = process.env.NIMBUS_SYNC_DIR;

const mine = 'Organize test';
const target = 'Organize target';

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

/** Reloads until `locator` is there (a desktop client may still be syncing). */
async function eventually(locator) {
  await reloadUntil(page, locator);
  await locator.first().waitFor();
}

test('a file is copied with the folder chooser, renamed, moved, deleted and restored from the trash', async () => {
  await openTop(page);
  await newFolder(page, mine);
  await item(page, mine).click();
  await page.getByRole('heading', { name: mine }).waitFor();
  await newFolder(page, target);

  // Copy the synced hello.txt into this test's folder, choosing it.
  await openTop(page);
  await eventually(item(page, synced));
  await item(page, synced).click();
  await eventually(item(page, 'hello.txt'));
  await page.getByLabel('Actions for hello.txt').click();
  await page.getByRole('link', { name: 'Move or copy' }).click();
  await page.getByRole('heading', { name: 'Move or copy hello.txt' }).waitFor();
  const chooser = page.locator('#chooser');
  await chooser.getByRole('link', { name: mine, exact: true }).click();
  await chooser.locator('[aria-current="location"]', { hasText: mine }).waitFor();
  await page.screenshot({ path: `${screenshots}/organize-chooser.png` });
  assert.deepEqual(await accessibilityProblems(page), []);
  await page.getByRole('button', { name: `Copy here to ${mine}` }).click();
  await page.getByRole('heading', { name: mine }).waitFor();
  await item(page, 'hello.txt').waitFor();

  await page.getByLabel('Actions for hello.txt').click();
  await page.getByLabel('New name for hello.txt').fill('greeting.txt');
  await page.getByRole('button', { name: 'Rename' }).click();
  await item(page, 'greeting.txt').waitFor();

  // Move it into the target; the chooser will not put a folder into itself.
  await page.getByLabel(`Actions for ${target}`).click();
  await page.getByRole('link', { name: 'Move or copy' }).click();
  await page.locator('#chooser').getByRole('link', { name: mine, exact: true }).click();
  await page.getByText('(the folder being moved)').waitFor();
  await page.goBack();
  await page.getByLabel('Actions for greeting.txt').click();
  await page.getByRole('link', { name: 'Move or copy' }).click();
  await page.locator('#chooser').getByRole('link', { name: mine, exact: true }).click();
  await page.locator('#chooser').getByRole('link', { name: target, exact: true }).click();
  await page.locator('#chooser [aria-current="location"]', { hasText: target }).waitFor();
  await page.getByRole('button', { name: `Move here to ${target}` }).click();
  await page.getByRole('heading', { name: target }).waitFor();
  await item(page, 'greeting.txt').waitFor();

  await page.getByLabel('Actions for greeting.txt').click();
  await page.getByRole('button', { name: 'Delete file' }).click();
  await item(page, 'greeting.txt').waitFor({ state: 'detached' });

  await page.getByRole('link', { name: 'Trash' }).click();
  await page.getByRole('heading', { name: /^Trash of / }).waitFor();
  const row = page.getByRole('row').filter({ hasText: 'greeting.txt' });
  assert.match(await row.innerText(), new RegExp(`${mine}/${target}`));
  await page.screenshot({ path: `${screenshots}/organize-trash.png`, fullPage: true });
  assert.deepEqual(await accessibilityProblems(page), []);
  await row.getByRole('button', { name: 'Restore greeting.txt' }).click();
  await page.getByRole('heading', { name: target }).waitFor();
  const href = await item(page, 'greeting.txt').getAttribute('href');
  const response = await page.request.get(`${url}${href}`);
  assert.equal(await response.text(), 'hello from the desktop\n');
});

test('keys rename, close and delete to the trash; ? shows them; a folder is copied whole', async () => {
  await openTop(page);
  await item(page, mine).click();
  await page.getByRole('heading', { name: mine }).waitFor();
  // F2 on the focused item opens its name field, the name selected.
  await item(page, target).focus();
  await page.keyboard.press('F2');
  const field = page.getByLabel(`New name for ${target}`);
  const selected = await page.evaluate(() => {
    const input = document.activeElement;
    return input instanceof HTMLInputElement && input.name === 'name'
      ? input.value.slice(input.selectionStart ?? 0, input.selectionEnd ?? 0) : null;
  });
  assert.equal(selected, target);
  await field.fill('Keyed folder');
  await field.press('Enter');
  await item(page, 'Keyed folder').waitFor();
  // Escape closes the menu F2 opened and gives the focus back to the item.
  await item(page, 'Keyed folder').focus();
  await page.keyboard.press('F2');
  await page.keyboard.press('Escape');
  assert.equal(await page.locator('details.actions[open]').count(), 0);
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), 'Keyed folder');
  // ? shows the keys, at phone width in dark mode too; Escape closes them.
  await page.keyboard.press('?');
  const help = page.getByRole('dialog', { name: 'Keyboard shortcuts' });
  await help.waitFor();
  await page.screenshot({ path: `${screenshots}/organize-keys.png` });
  assert.deepEqual(await accessibilityProblems(page), []);
  await page.setViewportSize({ width: 375, height: 740 });
  await page.emulateMedia({ colorScheme: 'dark' });
  await page.screenshot({ path: `${screenshots}/organize-keys-phone-dark.png` });
  await page.keyboard.press('Escape');
  await help.waitFor({ state: 'hidden' });
  await page.setViewportSize({ width: 1280, height: 800 });
  await page.emulateMedia({ colorScheme: 'light' });

  // The folder, with the file restored into it, is copied beside itself.
  await page.getByLabel('Actions for Keyed folder').click();
  await page.getByRole('link', { name: 'Move or copy' }).click();
  await page.locator('#chooser').getByRole('link', { name: mine, exact: true }).click();
  await page.locator('#chooser [aria-current="location"]', { hasText: mine }).waitFor();
  await page.getByRole('button', { name: `Copy here to ${mine}` }).click();
  await page.getByRole('heading', { name: mine }).waitFor();
  await item(page, 'Keyed folder (copy)').click();
  await page.getByRole('heading', { name: 'Keyed folder (copy)' }).waitFor();
  const href = await item(page, 'greeting.txt').getAttribute('href');
  assert.equal(await (await page.request.get(`${url}${href}`)).text(), 'hello from the desktop\n');
  // Delete on the focused item moves it to the trash, no question asked.
  await page.keyboard.press('Backspace');
  await page.getByRole('heading', { name: mine }).waitFor();
  await item(page, 'Keyed folder (copy)').focus();
  await page.keyboard.press('Delete');
  await item(page, 'Keyed folder (copy)').waitFor({ state: 'detached' });
  await item(page, 'Keyed folder').waitFor();
  await page.getByRole('link', { name: 'Trash' }).click();
  await page.getByRole('row').filter({ hasText: 'Keyed folder (copy)' }).waitFor();
  assert.deepEqual(violations, [], 'no Content-Security-Policy violation');
});

test('a version of a file the desktop changed is restored', async () => {
  const dir = `${syncDir}/Organize sync`;
  await mkdir(dir, { recursive: true });
  await writeFile(`${dir}/draft.txt`, 'first draft\n');
  await openTop(page);
  await eventually(item(page, 'Organize sync'));
  await item(page, 'Organize sync').click();
  await eventually(item(page, 'draft.txt'));
  // The second draft, once the first is synced.
  await writeFile(`${dir}/draft.txt`, 'second draft, longer\n');
  await page.getByLabel('Actions for draft.txt').click();
  await page.getByRole('link', { name: 'Versions' }).click();
  await page.getByRole('heading', { name: 'Versions of draft.txt' }).waitFor();
  await eventually(page.getByText('2 · changed'));
  await page.screenshot({ path: `${screenshots}/organize-versions.png`, fullPage: true });
  assert.deepEqual(await accessibilityProblems(page), []);
  await page.getByRole('button', { name: 'Restore version 1' }).click();
  await page.getByText('3 · changed').waitFor();
  await page.getByRole('link', { name: '← Back to the folder' }).click();
  const href = await item(page, 'draft.txt').getAttribute('href');
  const response = await page.request.get(`${url}${href}`);
  assert.equal(await response.text(), 'first draft\n');
  // The desktop client receives the restored version.
  let local = '';
  for (let tries = 0; tries < 60 && local !== 'first draft\n'; tries += 1) {
    await page.waitForTimeout(1000);
    local = await readFile(`${dir}/draft.txt`, 'utf8');
  }
  assert.equal(local, 'first draft\n');
  assert.deepEqual(violations, [], 'no Content-Security-Policy violation');
});
