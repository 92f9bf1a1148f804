// @ts-check
// The web UI's behaviour beyond plain links and forms: the CSRF header of
// htmx requests, and keyboard navigation of the file list.

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

document.addEventListener('keydown', (event) => {
  if (event.ctrlKey || event.metaKey || event.altKey) {
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
