// @ts-check
// The web UI's behaviour beyond plain links and forms: the CSRF header of
// htmx requests, and keyboard navigation and shortcuts of the file list
// (F2 renames, Delete moves to the trash, Escape closes, ? shows them all).

/** The session's CSRF token, from the page's <meta>. */
function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute('content') ?? '' : '';
}

// htmx requests that change something carry the token as a header too.
document.addEventListener('htmx:configRequest', (event) => {
  const detail = /** @type {CustomEvent} */ (event).detail;
  if (detail.verb !== 'get') {
    detail.headers['X-CSRF-Token'] = csrfToken();
  }
});

// After htmx swaps in another folder, move focus to its heading so screen
// readers announce it and the keys below start from the top (not when only
// the list is refreshed by live.js).
document.addEventListener('htmx:afterSettle', (event) => {
  if (!(event.target instanceof Element && event.target.id === 'main')) {
    return;
  }
  const heading = document.querySelector('#main h1');
  if (heading instanceof HTMLElement) {
    heading.tabIndex = -1;
    heading.focus({ preventScroll: true });
  }
});

/** @returns {HTMLAnchorElement[]} the item links of the file list, in order */
function itemLinks() {
  return Array.from(document.querySelectorAll('table.files a.item'));
}

/** @param {KeyboardEvent} event */
function isTyping(event) {
  const target = event.target;
  return target instanceof HTMLInputElement || target instanceof HTMLTextAreaElement
    || target instanceof HTMLSelectElement;
}

/** @returns {HTMLTableRowElement | null} the file list's row that has the focus */
function focusedRow() {
  const active = document.activeElement;
  const row = active instanceof Element ? active.closest('table.files tr') : null;
  return row instanceof HTMLTableRowElement && row.querySelector('a.item') ? row : null;
}

/**
 * F2: opens the focused row's menu at its name field, the name selected up
 * to its extension.
 * @param {HTMLTableRowElement} row
 */
function rename(row) {
  const menu = row.querySelector('details.actions');
  const field = row.querySelector('form[action$="/rename"] input[name="name"]');
  if (!(menu instanceof HTMLDetailsElement) || !(field instanceof HTMLInputElement)) return;
  menu.open = true;
  field.focus();
  const dot = field.value.lastIndexOf('.');
  field.setSelectionRange(0, dot > 0 ? dot : field.value.length);
}

/**
 * Escape: closes an open row menu, putting the focus back on its item.
 * @returns {boolean} whether there was one
 */
function closeMenu() {
  const menu = document.activeElement?.closest('details.actions[open]')
    ?? document.querySelector('table.files details.actions[open]');
  if (!(menu instanceof HTMLDetailsElement)) return false;
  menu.open = false;
  const item = menu.closest('tr')?.querySelector('a.item');
  if (item instanceof HTMLElement) item.focus();
  return true;
}

// The help of the keys: a dialog of the folder page.
document.addEventListener('click', (event) => {
  const target = event.target;
  if (target instanceof Element && target.closest('[data-close-dialog]')) {
    target.closest('dialog')?.close();
  }
});

document.addEventListener('keydown', (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) {
    return;
  }
  if (event.key === 'Escape' && closeMenu()) {
    event.preventDefault();
    return;
  }
  if (event.key === '?' && !isTyping(event)) {
    const help = document.getElementById('keys-help');
    if (help instanceof HTMLDialogElement && !help.open) {
      event.preventDefault();
      help.showModal();
    }
    return;
  }
  if (event.key === '/' && !isTyping(event)) {
    const search = document.getElementById('search');
    if (search) {
      event.preventDefault();
      search.focus();
    }
    return;
  }
  if (isTyping(event)) {
    return;
  }
  const row = focusedRow();
  if (event.key === 'F2' && row) {
    event.preventDefault();
    rename(row);
    return;
  }
  if (event.key === 'Delete' && row) {
    // To the trash, from where it can be restored: no question asked.
    const form = row.querySelector('form[action$="/delete"]');
    if (form instanceof HTMLFormElement) {
      event.preventDefault();
      form.requestSubmit();
    }
    return;
  }
  const links = itemLinks();
  const current = links.indexOf(/** @type {HTMLAnchorElement} */ (document.activeElement));
  let next = -1;
  switch (event.key) {
    case 'ArrowDown':
    case 'j':
      next = current < 0 ? 0 : Math.min(current + 1, links.length - 1);
      break;
    case 'ArrowUp':
    case 'k':
      next = current < 0 ? 0 : Math.max(current - 1, 0);
      break;
    case 'Home':
      next = 0;
      break;
    case 'End':
      next = links.length - 1;
      break;
    case 'Backspace': {
      const up = document.querySelector('a[data-parent]');
      if (up instanceof HTMLAnchorElement) {
        event.preventDefault();
        up.click();
      }
      return;
    }
    default:
      return;
  }
  if (links.length > 0 && next >= 0) {
    event.preventDefault();
    links[next].focus();
    links[next].closest('tr')?.scrollIntoView({ block: 'nearest' });
  }
});
