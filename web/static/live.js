// @ts-check
// Live updates of an open page of a workspace (a folder, its trash, its
// conflicted copies, a file's versions): listens to the workspace's
// server-sent events (`data-live` on the page, `api-proxy/src/web/live.rs`)
// and, on a change, swaps in the page's list (`#listing`) again with htmx,
// keeping the focus where it was (rows carry a `data-key`). The browser reconnects a lost stream by itself and
// sends the last revision it saw, from which the server catches up.
// Pages without a workspace listen to `/events` instead. Both streams say
// when the user's invitations changed, and the navigation's badge asks for
// its count again at once; while no stream is open (a session's tabs hold
// at most four) the badge asks every minute instead. `/events` also says
// when the user's workspaces changed, and the workspaces list (`#listing`
// of the home page) is swapped in again.

/** @type {EventSource | null} */
let source = null;
/** The events URL without its query: one stream per workspace. */
let streamPath = '';
/** The revision the list on the page shows. */
let shown = 0;
/** The latest revision the stream announced. */
let announced = 0;
/** How many times the user's stream said their workspaces changed, and how many the list shows. */
let workspacesNews = 0;
let workspacesShown = 0;
let refreshing = false;
let refreshAgain = false;
/** Whether the badge shows what the page was rendered with (no stream has opened since). */
let badgeFresh = true;
/** @type {ReturnType<typeof setInterval> | null} the badge's polling while no stream is open */
let badgePolling = null;
const BADGE_POLL_MS = 60_000;

/** Asks the server for the navigation's invitations badge again (`hx-trigger="invitations"`). */
function refreshBadge() {
  document.getElementById('invitation-badge')?.dispatchEvent(new Event('invitations'));
}

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
  if (badgePolling === null && document.getElementById('invitation-badge')) {
    badgePolling = setInterval(refreshBadge, BADGE_POLL_MS);
  }
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

const FOCUSABLE = 'a[href], button, input:not([type=hidden]), summary, select, textarea';

/** @param {Element} row @returns {HTMLElement[]} what can take the focus in a row */
function focusables(row) {
  return /** @type {HTMLElement[]} */ (Array.from(row.querySelectorAll(FOCUSABLE)));
}

/**
 * Where the focus is in the list: its row's key, the row's place, and the
 * focused element's place in the row.
 * @param {HTMLElement} listing
 */
function focusPlace(listing) {
  const active = document.activeElement;
  const row = active instanceof HTMLElement && listing.contains(active)
    ? active.closest('[data-key]') : null;
  if (!(row instanceof HTMLElement) || !(active instanceof HTMLElement)) return null;
  return {
    key: row.dataset.key,
    row: Array.from(listing.querySelectorAll('[data-key]')).indexOf(row),
    index: focusables(row).indexOf(active),
  };
}

/**
 * Puts the focus back where it was: the same element of the same row, or
 * the row that took the place of one that went.
 * @param {{ key: string | undefined, row: number, index: number }} place
 */
function restoreFocus(place) {
  const rows = /** @type {HTMLElement[]} */ (Array.from(document.querySelectorAll('#listing [data-key]')));
  const same = rows.find((row) => row.dataset.key === place.key);
  const row = same ?? rows[Math.min(place.row, rows.length - 1)];
  if (!row) return;
  const targets = focusables(row);
  (same ? targets[place.index] : undefined)?.focus({ preventScroll: true });
  if (!row.contains(document.activeElement)) targets[0]?.focus({ preventScroll: true });
}

/**
 * Swaps in the current page's list again when the page is behind what
 * the stream announced, keeping the focused item focused.
 */
async function refresh() {
  const listing = document.getElementById('listing');
  // Rendered after the change (this browser's own, say): nothing to do.
  if (!listing || (announced <= shown && workspacesNews <= workspacesShown)) {
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
  const news = workspacesNews;
  const place = focusPlace(listing);
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
      workspacesShown = Math.max(workspacesShown, news);
    }
    if (place !== null && document.activeElement === document.body) {
      restoreFocus(place);
    }
  } finally {
    refreshing = false;
    if (refreshAgain) {
      refreshAgain = false;
      refresh();
    }
  }
}

/**
 * Opens the stream of the workspace on the page, or the user's own stream
 * on a page of no workspace, keeping one already open.
 */
function connect() {
  const view = document.querySelector('#main [data-live]');
  const url = view?.getAttribute('data-live') ?? (document.getElementById('invitation-badge') ? '/events' : null);
  if (!url) {
    stop();
    return;
  }
  const [path, query] = url.split('?');
  shown = Number(new URLSearchParams(query).get('since') ?? 0);
  announced = shown;
  workspacesNews = 0;
  workspacesShown = 0;
  if (source && path === streamPath) {
    return;
  }
  stop();
  streamPath = path;
  const stream = new EventSource(url);
  source = stream;
  stream.addEventListener('open', () => {
    mark('open');
    if (badgePolling !== null) {
      clearInterval(badgePolling);
      badgePolling = null;
    }
    // A reconnection, or another stream after navigating: an invitation
    // may have changed while none was open.
    if (!badgeFresh) refreshBadge();
    badgeFresh = false;
  });
  stream.addEventListener('invitations', refreshBadge);
  stream.addEventListener('workspaces', () => {
    refreshBadge();
    workspacesNews += 1;
    refresh();
  });
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
