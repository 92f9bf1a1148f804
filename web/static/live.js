// @ts-check
// Live updates of an open folder: listens to the workspace's server-sent
// events (`data-live` on the folder view, `api-proxy/src/web/live.rs`) and,
// on a change, swaps in the folder's list again with htmx, keeping the
// focused item focused. The browser reconnects a lost stream by itself and
// sends the last revision it saw, from which the server catches up.

/** @type {EventSource | null} */
let source = null;
/** The events URL without its query: one stream per workspace. */
let streamPath = '';
/** The revision the list on the page shows. */
let shown = 0;
/** The latest revision the stream announced. */
let announced = 0;
let refreshing = false;
let refreshAgain = false;

/** @param {'open' | 'closed'} state shown on <html data-live-state> for tests and styles */
function mark(state) {
  document.documentElement.dataset.liveState = state;
}

/** @param {string} text */
function notice(text) {
  const listing = document.getElementById('listing');
  if (!listing || document.getElementById('live-notice')) {
    return;
  }
  const note = document.createElement('p');
  note.id = 'live-notice';
  note.className = 'status';
  note.setAttribute('role', 'status');
  note.textContent = text;
  listing.before(note);
}

function stop() {
  source?.close();
  source = null;
  streamPath = '';
  mark('closed');
}

/**
 * Whether the user is in the middle of something inside the list (typing a
 * new name, a row's menu open) that a swap would throw away.
 * @param {HTMLElement} listing
 */
function busy(listing) {
  const active = document.activeElement;
  const typing = active instanceof HTMLInputElement && listing.contains(active);
  return typing || listing.querySelector('details[open]') !== null;
}

/**
 * Swaps in the current folder's list again when the page is behind what
 * the stream announced, keeping the focused item focused.
 */
async function refresh() {
  const listing = document.getElementById('listing');
  // Rendered after the change (this browser's own, say): nothing to do.
  if (!listing || announced <= shown) {
    return;
  }
  if (refreshing) {
    refreshAgain = true;
    return;
  }
  if (busy(listing)) {
    setTimeout(refresh, 1000);
    return;
  }
  refreshing = true;
  const target = announced;
  const links = Array.from(listing.querySelectorAll('a.item'));
  const focused = links.indexOf(/** @type {Element} */ (document.activeElement));
  const focusedHref = focused >= 0 ? links[focused].getAttribute('href') : null;
  try {
    // @ts-ignore htmx is the vendored global
    await htmx.ajax('GET', window.location.pathname + window.location.search, {
      target: '#listing',
      select: '#listing',
      swap: 'outerHTML',
    });
    // Swapped (not held back below because the user started something).
    if (document.getElementById('listing') !== listing) {
      shown = Math.max(shown, target);
    }
    if (focusedHref !== null && document.activeElement === document.body) {
      const fresh = Array.from(document.querySelectorAll('#listing a.item'));
      const same = fresh.find((link) => link.getAttribute('href') === focusedHref);
      // The focused item is gone: its neighbour takes the focus.
      const next = same ?? fresh[Math.min(focused, fresh.length - 1)];
      if (next instanceof HTMLElement) {
        next.focus({ preventScroll: true });
      }
    }
  } finally {
    refreshing = false;
    if (refreshAgain) {
      refreshAgain = false;
      refresh();
    }
  }
}

/** Opens the stream of the folder on the page, keeping one already open. */
function connect() {
  const view = document.querySelector('#main [data-live]');
  const url = view?.getAttribute('data-live');
  if (!url) {
    stop();
    return;
  }
  const [path, query] = url.split('?');
  shown = Number(new URLSearchParams(query).get('since') ?? 0);
  announced = shown;
  if (source && path === streamPath) {
    return;
  }
  stop();
  streamPath = path;
  const stream = new EventSource(url);
  source = stream;
  stream.addEventListener('open', () => mark('open'));
  stream.addEventListener('change', (event) => {
    announced = Math.max(announced, Number(/** @type {MessageEvent} */ (event).lastEventId));
    refresh();
  });
  stream.addEventListener('end', (event) => {
    stop();
    notice(`Live updates stopped: ${/** @type {MessageEvent} */ (event).data}. Reload the page.`);
  });
  stream.addEventListener('error', () => {
    // Closed: the server refused to reconnect (the session or the access
    // ended, or too many tabs). Otherwise the browser is reconnecting.
    if (stream.readyState === EventSource.CLOSED) {
      stop();
      notice('Live updates are off: reload the page to see changes.');
    }
  });
}

connect();
// A swap that would throw away what the user is doing in the list waits.
document.addEventListener('htmx:beforeSwap', (event) => {
  const detail = /** @type {CustomEvent} */ (event).detail;
  const listing = document.getElementById('listing');
  if (listing && detail.target === listing && busy(listing)) {
    detail.shouldSwap = false;
    setTimeout(refresh, 1000);
  }
});
// Another page swapped in by htmx (a folder, another workspace, the account).
document.addEventListener('htmx:afterSettle', (event) => {
  if (event.target instanceof Element && event.target.id === 'main') {
    connect();
  }
});
