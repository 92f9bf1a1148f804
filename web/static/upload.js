// @ts-check
// Uploads from the folder page: the file and folder pickers and drag and
// drop (folders keep their structure, empty ones included), through the proxy's resumable
// session API (`/uploads`, see api-proxy/src/web/upload.rs). Each file is
// one session: its bytes go in requests of the size the proxy names, at the
// offset the proxy names, so a cut connection resumes where the proxy's
// saved progress ends, and picking the same file again after a reload
// resumes its session (the proxy finds it by place, size and date).
// Network errors are retried with backoff; a name clash asks the user.
// Small files go in batches instead (`/uploads/batch`, see
// api-proxy/src/web/upload_batch.rs): one request and one commit for up
// to a few hundred of them, their bytes back to back after a manifest line.

/** Uploads running at once: enough to hide a request's latency for small
 * files, few enough not to split a big one's bandwidth. */
const PARALLEL = 3;
/** Retries of one request after a network error or a 5xx, with backoff. */
const RETRIES = 8;
const BACKOFF_MS = 500;
const BACKOFF_MAX_MS = 15000;

/** @returns {string} the session's CSRF token, from the page's <meta> */
function csrfToken() {
  const meta = document.querySelector('meta[name="csrf-token"]');
  return meta ? meta.getAttribute('content') ?? '' : '';
}

/** @param {number} bytes */
function humanSize(bytes) {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

class UploadFailed extends Error {
  /** @param {string} message @param {number} status @param {any} body */
  constructor(message, status, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

class Cancelled extends Error {}

/**
 * One request to the session API, as JSON, retried after network errors
 * and 5xx answers (but 507, which retrying cannot fix).
 * @param {string} method @param {string} url
 * @param {{ json?: any, body?: Blob, signal?: AbortSignal, retry?: boolean }} options
 */
async function call(method, url, options = {}) {
  let delay = BACKOFF_MS;
  for (let attempt = 0; ; attempt += 1) {
    if (options.signal?.aborted) throw new Cancelled('cancelled');
    /** @type {Record<string, string>} */
    const headers = { 'X-CSRF-Token': csrfToken() };
    let body = options.body;
    if (options.json !== undefined) {
      headers['Content-Type'] = 'application/json';
      body = new Blob([JSON.stringify(options.json)]);
    } else if (body) {
      headers['Content-Type'] = 'application/octet-stream';
    }
    let response;
    try {
      response = await fetch(url, {
        method, headers, body, signal: options.signal, credentials: 'same-origin',
      });
    } catch (error) {
      if (options.signal?.aborted) throw new Cancelled('cancelled');
      if (options.retry === false || attempt >= RETRIES) throw error;
      await sleep(delay);
      delay = Math.min(delay * 2, BACKOFF_MAX_MS);
      continue;
    }
    const answer = response.status === 204 ? {} : await response.json().catch(() => ({}));
    if (response.ok) return answer;
    if (response.status === 401) {
      window.location.assign(`/signin?next=${encodeURIComponent(window.location.pathname)}`);
    }
    const transient = response.status >= 500 && response.status !== 507;
    if (!transient || options.retry === false || attempt >= RETRIES) {
      throw new UploadFailed(answer.message ?? `${response.status}`, response.status, answer);
    }
    await sleep(delay);
    delay = Math.min(delay * 2, BACKOFF_MAX_MS);
  }
}

/**
 * @typedef {{ file: File, path: string }} Entry  a file and its path below the target folder
 * @typedef {{ files: Entry[], folders: string[] }} Tree  what to upload: files, and the
 *   paths of empty folders, which no file's path would make
 */

/** Adds a dropped file or folder to `tree`.
 * @param {FileSystemEntry} entry @param {string} prefix @param {Tree} tree */
async function walkEntry(entry, prefix, tree) {
  const path = prefix + entry.name;
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => {
      /** @type {FileSystemFileEntry} */ (entry).file(resolve, reject);
    });
    tree.files.push({ file, path });
    return;
  }
  const reader = /** @type {FileSystemDirectoryEntry} */ (entry).createReader();
  let empty = true;
  // readEntries answers in batches until it answers none.
  for (;;) {
    /** @type {FileSystemEntry[]} */
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    empty = false;
    for (const child of batch) await walkEntry(child, `${path}/`, tree);
  }
  if (empty) tree.folders.push(path);
}

/** Adds a picked folder (a File System Access handle) at `path` to `tree`.
 * @param {any} folder a FileSystemDirectoryHandle @param {string} path @param {Tree} tree */
async function walkHandle(folder, path, tree) {
  let empty = true;
  for await (const child of folder.values()) {
    empty = false;
    const childPath = `${path}/${child.name}`;
    if (child.kind === 'file') tree.files.push({ file: await child.getFile(), path: childPath });
    else await walkHandle(child, childPath, tree);
  }
  if (empty) tree.folders.push(path);
}

/** The upload panel: one row per file and a total, outside #main so that
 * it stays while htmx swaps folders. */
class Panel {
  constructor() {
    this.root = document.createElement('section');
    this.root.className = 'upload-panel';
    this.root.setAttribute('aria-label', 'Uploads');
    this.total = document.createElement('p');
    this.total.className = 'upload-total';
    this.total.setAttribute('role', 'status');
    this.totalBar = document.createElement('progress');
    this.totalBar.className = 'upload-total-bar';
    this.list = document.createElement('ul');
    this.list.className = 'upload-list';
    const close = document.createElement('button');
    close.type = 'button';
    close.className = 'link';
    close.textContent = 'Hide';
    close.addEventListener('click', () => { this.root.hidden = true; });
    this.root.append(this.total, this.totalBar, this.list, close);
    document.body.append(this.root);
  }

  show() { this.root.hidden = false; }
}

/** @type {Panel | null} */
let panel = null;

class Upload {
  /** @param {Entry} entry @param {string} workspace @param {string} parent */
  constructor(entry, workspace, parent) {
    this.entry = entry;
    this.workspace = workspace;
    this.parent = parent;
    this.sent = 0;
    this.state = 'waiting';
    this.controller = new AbortController();
    /** @type {string | null} */
    this.session = null;
    /** @type {Batch | null} the batch it goes in, when it is small */
    this.batch = null;
    this.row = document.createElement('li');
    this.row.className = 'upload-row';
    this.name = document.createElement('span');
    this.name.className = 'upload-name';
    this.name.textContent = entry.path;
    this.bar = document.createElement('progress');
    this.bar.max = Math.max(entry.file.size, 1);
    this.bar.value = 0;
    this.bar.setAttribute('aria-label', `Progress of ${entry.path}`);
    this.status = document.createElement('span');
    this.status.className = 'upload-status';
    this.cancel = document.createElement('button');
    this.cancel.type = 'button';
    this.cancel.textContent = 'Cancel';
    this.cancel.setAttribute('aria-label', `Cancel ${entry.path}`);
    this.cancel.addEventListener('click', () => this.abort());
    this.row.append(this.name, this.bar, this.status, this.cancel);
    this.setStatus('waiting');
  }

  /** @param {string} text */
  setStatus(text) {
    this.status.textContent = text;
    this.row.dataset.state = this.state;
  }

  abort() {
    if (this.state === 'done' || this.state === 'failed') return;
    this.controller.abort();
    this.batch?.drop(this);
    this.state = 'cancelled';
    this.setStatus('cancelled');
    this.cancel.disabled = true;
    if (this.session) {
      call('DELETE', `/uploads/${this.session}`, { retry: false }).catch(() => {});
    }
    queue.changed();
  }

  skipped() {
    this.state = 'done';
    this.cancel.disabled = true;
    this.setStatus('skipped');
  }

  /** @param {number} sent */
  progress(sent) {
    this.sent = sent;
    this.bar.value = sent;
    this.setStatus(`${humanSize(sent)} of ${humanSize(this.entry.file.size)}`);
    queue.changed();
  }

  async run() {
    const { file, path } = this.entry;
    const signal = this.controller.signal;
    this.state = 'uploading';
    const session = await call('POST', '/uploads', {
      signal,
      json: {
        workspace: this.workspace, parent: this.parent, path,
        size: file.size, modified: file.lastModified,
      },
    });
    this.session = session.id;
    let onClash = 'ask';
    if (session.exists) {
      onClash = await queue.askClash(path, session.exists_as_folder);
      if (onClash === 'skip') {
        await call('DELETE', `/uploads/${session.id}`, { signal });
        this.skipped();
        return;
      }
    }
    let offset = session.offset;
    this.progress(offset);
    let delay = BACKOFF_MS;
    let failures = 0;
    while (offset < file.size) {
      const end = Math.min(offset + session.request_bytes, file.size);
      try {
        const answer = await call('PUT', `/uploads/${session.id}?offset=${offset}`, {
          signal, body: file.slice(offset, end), retry: false,
        });
        offset = answer.offset;
        failures = 0;
        delay = BACKOFF_MS;
      } catch (error) {
        if (error instanceof Cancelled || signal.aborted) throw new Cancelled('cancelled');
        const known = error instanceof UploadFailed ? error.body?.offset : undefined;
        if (error instanceof UploadFailed && error.status < 500 && known === undefined) throw error;
        if (error instanceof UploadFailed && error.status === 507) throw error;
        failures += 1;
        if (failures > RETRIES) throw error;
        this.setStatus(`connection lost, retrying in ${Math.round(delay / 1000)} s`);
        await sleep(delay);
        delay = Math.min(delay * 2, BACKOFF_MAX_MS);
        // Continue where the proxy's saved progress ends.
        offset = known ?? (await call('GET', `/uploads/${session.id}`, { signal })).offset;
      }
      this.progress(offset);
    }
    this.setStatus('finishing');
    let finished;
    try {
      finished = await call('POST', `/uploads/${session.id}/finish`, {
        signal, json: { on_clash: onClash },
      });
    } catch (error) {
      // Taken meanwhile by something else: ask now.
      if (!(error instanceof UploadFailed) || error.body?.error !== 'name_taken') throw error;
      const choice = await queue.askClash(path, false);
      finished = await call('POST', `/uploads/${session.id}/finish`, {
        signal, json: { on_clash: choice },
      });
    }
    this.state = 'done';
    this.cancel.disabled = true;
    this.progress(file.size);
    this.setStatus(finished.skipped ? 'skipped'
      : finished.name !== path.split('/').pop() ? `done, as ${finished.name}` : 'done');
  }
}

/**
 * Sends a batch's body, reporting the bytes sent; answers the status and
 * the JSON answer. fetch() cannot report an upload's progress, XHR can.
 * @param {Blob} body @param {AbortSignal} signal @param {(sent: number) => void} onProgress
 * @returns {Promise<{ status: number, answer: any }>}
 */
function sendBatch(body, signal, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('POST', '/uploads/batch');
    xhr.setRequestHeader('X-CSRF-Token', csrfToken());
    xhr.setRequestHeader('Content-Type', 'application/octet-stream');
    xhr.upload.addEventListener('progress', (event) => onProgress(event.loaded));
    xhr.addEventListener('load', () => {
      let answer = {};
      try { answer = JSON.parse(xhr.responseText); } catch { /* not JSON: a proxy's page */ }
      resolve({ status: xhr.status, answer });
    });
    xhr.addEventListener('error', () => reject(new Error('the connection was lost')));
    xhr.addEventListener('abort', () => reject(new Cancelled('cancelled')));
    signal.addEventListener('abort', () => xhr.abort());
    xhr.send(body);
  });
}

/** Small files, and empty folders, sent together: one request, one commit. */
class Batch {
  /** @param {Upload[]} uploads @param {string[]} folders @param {string} workspace @param {string} parent */
  constructor(uploads, folders, workspace, parent) {
    this.uploads = uploads;
    this.folders = folders;
    this.workspace = workspace;
    this.parent = parent;
    this.state = 'waiting';
    /** Whether the body is on its way (a cancelled file then restarts it). */
    this.sending = false;
    this.controller = new AbortController();
    for (const upload of uploads) upload.batch = this;
  }

  /** A file of the batch was cancelled: the batch goes again without it
   * (nothing is committed before the whole body has arrived).
   * @param {Upload} upload */
  drop(upload) {
    this.uploads = this.uploads.filter((u) => u !== upload);
    if (!this.sending) return;
    this.controller.abort();
    this.controller = new AbortController();
  }

  /** @returns {Upload[]} the files still to send */
  pending() {
    return this.uploads.filter((u) => u.state === 'waiting' || u.state === 'uploading');
  }

  async run() {
    this.state = 'uploading';
    for (const upload of this.pending()) {
      upload.state = 'uploading';
      upload.setStatus('checking the name');
    }
    /** @type {Map<string, string>} what to do about each taken name */
    const choices = new Map();
    const paths = this.pending().map((u) => u.entry.path);
    if (paths.length > 0) {
      const { clashes } = await call('POST', '/uploads/clashes', {
        signal: this.controller.signal,
        json: { workspace: this.workspace, parent: this.parent, paths },
      });
      await this.ask(clashes, choices);
    }
    this.sending = true;
    let delay = BACKOFF_MS;
    for (let attempt = 0; ; attempt += 1) {
      const uploads = this.pending();
      if (uploads.length === 0 && this.folders.length === 0) return;
      const signal = this.controller.signal;
      const manifest = JSON.stringify({
        workspace: this.workspace,
        parent: this.parent,
        files: uploads.map(({ entry }) => ({
          path: entry.path, size: entry.file.size, modified: entry.file.lastModified,
          on_clash: choices.get(entry.path) ?? 'ask',
        })),
        folders: this.folders,
      });
      const head = new Blob([manifest, '\n']);
      const body = new Blob([head, ...uploads.map((u) => u.entry.file)]);
      for (const upload of uploads) upload.setStatus('sending');
      let status;
      let answer;
      try {
        ({ status, answer } = await sendBatch(body, signal, (sent) => {
          // The files follow the manifest in order: each has its share.
          let start = head.size;
          for (const upload of uploads) {
            upload.progress(Math.max(0, Math.min(upload.entry.file.size, sent - start)));
            start += upload.entry.file.size;
          }
        }));
      } catch (error) {
        if (error instanceof Cancelled && !signal.aborted) throw error;
        if (error instanceof Cancelled) continue; // a file was dropped: send the rest
        if (attempt >= RETRIES) throw error;
        status = 0;
        answer = {};
      }
      if (status === 201) {
        this.finished(uploads, answer.files);
        return;
      }
      if (status === 409 && answer.error === 'name_taken') {
        await this.ask(answer.clashes ?? [], choices);
        continue;
      }
      if (status === 401) {
        window.location.assign(`/signin?next=${encodeURIComponent(window.location.pathname)}`);
      }
      const transient = status === 0 || (status >= 500 && status !== 507);
      if (!transient || attempt >= RETRIES) {
        throw new UploadFailed(answer.message ?? `${status}`, status, answer);
      }
      // A lost answer after the commit is harmless: files already there
      // with the same bytes come back as unchanged.
      for (const upload of uploads) upload.setStatus(`connection lost, retrying in ${Math.round(delay / 1000)} s`);
      await sleep(delay);
      delay = Math.min(delay * 2, BACKOFF_MAX_MS);
    }
  }

  /** Asks about each taken name; skipped files are done.
   * @param {{ path: string, is_folder: boolean }[]} clashes @param {Map<string, string>} choices */
  async ask(clashes, choices) {
    for (const clash of clashes) {
      const choice = await queue.askClash(clash.path, clash.is_folder);
      choices.set(clash.path, choice);
      if (choice === 'skip') {
        const upload = this.uploads.find((u) => u.entry.path === clash.path);
        if (upload) upload.skipped();
      }
    }
  }

  /** @param {Upload[]} uploads @param {{ path: string, name: string | null, outcome: string }[]} files */
  finished(uploads, files) {
    const byPath = new Map(files.map((f) => [f.path, f]));
    for (const upload of uploads) {
      const file = byPath.get(upload.entry.path);
      upload.state = 'done';
      upload.cancel.disabled = true;
      upload.progress(upload.entry.file.size);
      if (!file || file.outcome === 'skipped') {
        upload.setStatus('skipped');
      } else if (file.outcome === 'unchanged') {
        upload.setStatus('done, it was there already');
      } else {
        upload.setStatus(file.name !== upload.entry.path.split('/').pop()
          ? `done, as ${file.name}` : 'done');
      }
    }
  }
}

class Queue {
  constructor() {
    /** @type {Upload[]} every file, for the panel and the totals */
    this.uploads = [];
    /** @type {(Upload | Batch)[]} what is sent: big files alone, small ones in batches */
    this.jobs = [];
    this.running = 0;
    /** A clash remembered for the rest of this batch ("do the same for all"). */
    /** @type {string | null} */
    this.clashForAll = null;
    /** @type {Promise<unknown>} */
    this.asking = Promise.resolve();
    /** Empty folders of failed batches, which have no row to say so. */
    this.foldersFailed = 0;
  }

  /**
   * @param {Tree} tree @param {string} workspace @param {string} parent
   * @param {{ smallFile: number, batchFiles: number, batchBytes: number }} limits
   */
  add(tree, workspace, parent, limits) {
    panel ??= new Panel();
    panel.show();
    this.clashForAll = null;
    /** @type {Upload[]} */
    let small = [];
    /** @type {string[]} */
    let folders = [];
    let smallBytes = 0;
    const flush = () => {
      if (small.length + folders.length > 0) this.jobs.push(new Batch(small, folders, workspace, parent));
      small = [];
      folders = [];
      smallBytes = 0;
    };
    // Empty folders ride with the first batch, each an item of its commit.
    for (const folder of tree.folders) {
      if (folders.length >= limits.batchFiles) flush();
      folders.push(folder);
    }
    for (const entry of tree.files) {
      const upload = new Upload(entry, workspace, parent);
      this.uploads.push(upload);
      panel.list.append(upload.row);
      const size = entry.file.size;
      if (size > limits.smallFile) {
        this.jobs.push(upload);
        continue;
      }
      if (small.length + folders.length >= limits.batchFiles
        || smallBytes + size > limits.batchBytes) flush();
      small.push(upload);
      smallBytes += size;
    }
    flush();
    this.changed();
    this.pump();
  }

  pump() {
    while (this.running < PARALLEL) {
      const next = this.jobs.find((job) => job.state === 'waiting');
      if (!next) break;
      this.running += 1;
      next.run().catch((error) => {
        if (error instanceof Cancelled || next.state === 'cancelled') return;
        const failed = next instanceof Batch ? next.pending() : [next];
        if (next instanceof Batch) this.foldersFailed += next.folders.length;
        for (const upload of failed) {
          upload.state = 'failed';
          upload.cancel.disabled = true;
          upload.setStatus(`failed: ${error.message}`);
        }
      }).finally(() => {
        if (next instanceof Batch) next.state = 'done';
        this.running -= 1;
        this.changed();
        this.pump();
        if (this.running === 0) refreshFolder();
      });
    }
  }

  changed() {
    if (!panel) return;
    const live = this.uploads.filter((u) => u.state !== 'cancelled');
    const size = live.reduce((sum, u) => sum + u.entry.file.size, 0);
    const sent = live.reduce((sum, u) => sum + u.sent, 0);
    const done = live.filter((u) => u.state === 'done').length;
    const failed = live.filter((u) => u.state === 'failed').length;
    panel.totalBar.max = Math.max(size, 1);
    panel.totalBar.value = sent;
    panel.total.textContent = `${done} of ${live.length} files uploaded · `
      + `${humanSize(sent)} of ${humanSize(size)}${failed ? ` · ${failed} failed` : ''}`
      + `${this.foldersFailed ? ` · ${this.foldersFailed} empty folders not made` : ''}`;
  }

  /**
   * Asks what to do about a taken name, one question at a time.
   * @param {string} path @param {boolean} isFolder @returns {Promise<string>}
   */
  askClash(path, isFolder) {
    const answer = this.asking.then(() => this.clashForAll ?? clashDialog(path, isFolder));
    this.asking = answer;
    return answer;
  }
}

const queue = new Queue();

/**
 * The clash dialog: replace, keep both, or skip, optionally for the rest.
 * @param {string} path @param {boolean} isFolder @returns {Promise<string>}
 */
function clashDialog(path, isFolder) {
  const dialog = document.createElement('dialog');
  dialog.className = 'upload-clash';
  dialog.setAttribute('aria-labelledby', 'upload-clash-title');
  const title = document.createElement('h2');
  title.id = 'upload-clash-title';
  title.textContent = `“${path}” already exists`;
  const text = document.createElement('p');
  text.textContent = isFolder
    ? 'A folder has this name. Keep both (the file gets a numbered name) or skip it.'
    : 'Replace it (the current file is kept as an older version), keep both (the new one gets a numbered name), or skip it.';
  const all = document.createElement('label');
  const allBox = document.createElement('input');
  allBox.type = 'checkbox';
  all.append(allBox, ' Do the same for the other files of this upload');
  const buttons = document.createElement('div');
  buttons.className = 'upload-clash-buttons';
  dialog.append(title, text, all, buttons);
  return new Promise((resolve) => {
    /** @param {string} choice @param {string} label */
    const add = (choice, label) => {
      const button = document.createElement('button');
      button.type = 'button';
      button.textContent = label;
      button.dataset.choice = choice;
      button.addEventListener('click', () => {
        if (allBox.checked) queue.clashForAll = choice;
        dialog.close();
        dialog.remove();
        resolve(choice);
      });
      buttons.append(button);
    };
    if (!isFolder) add('replace', 'Replace');
    add('keep-both', 'Keep both');
    add('skip', 'Skip');
    // Escape skips, never replaces.
    dialog.addEventListener('cancel', (event) => {
      event.preventDefault();
      dialog.close();
      dialog.remove();
      resolve('skip');
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

/** Reloads the folder's list (htmx), unless the user went elsewhere. Only
 * the list: the pickers stay, so a file picked meanwhile is not lost with
 * an input swapped out. */
function refreshFolder() {
  const target = document.getElementById('listing');
  const htmx = /** @type {any} */ (window).htmx;
  if (target && document.getElementById('upload') && htmx) {
    htmx.ajax('GET', window.location.pathname + window.location.search,
      { target: '#listing', select: '#listing', swap: 'outerHTML' });
  }
}

/**
 * Where files go, and the proxy's limits of a batch of small files.
 * @returns {{ workspace: string, parent: string,
 *   limits: { smallFile: number, batchFiles: number, batchBytes: number } } | null}
 */
function destination() {
  const section = document.getElementById('upload');
  if (!section) return null;
  const { dataset } = section;
  return {
    workspace: dataset.workspace ?? '',
    parent: dataset.parent ?? '',
    limits: {
      smallFile: Number(dataset.smallFile ?? 0),
      batchFiles: Number(dataset.batchFiles ?? 1),
      batchBytes: Number(dataset.batchBytes ?? 0),
    },
  };
}

// The pickers come and go with htmx swaps, so listen on the document.
document.addEventListener('change', (event) => {
  const input = event.target;
  if (!(input instanceof HTMLInputElement) || !input.closest('#upload') || !input.files) return;
  const where = destination();
  if (!where) return;
  const files = Array.from(input.files, (file) => ({
    file,
    // A folder picker names each file by its path from the chosen folder.
    path: file.webkitRelativePath || file.name,
  }));
  input.value = '';
  // <input webkitdirectory> lists files only: a folder picked this way
  // loses its empty folders (below, browsers that can pick otherwise do).
  queue.add({ files, folders: [] }, where.workspace, where.parent, where.limits);
});

// Where the File System Access picker exists (Chromium), "Upload a folder"
// opens it instead: it shows the empty folders, which the input's list of
// files leaves out.
document.addEventListener('click', async (event) => {
  const input = event.target;
  const picker = /** @type {any} */ (window).showDirectoryPicker;
  if (!(input instanceof HTMLInputElement) || input.id !== 'upload-folder' || !picker) return;
  const where = destination();
  if (!where) return;
  event.preventDefault();
  let folder;
  try {
    folder = await picker.call(window, { id: 'nimbus-upload', mode: 'read' });
  } catch (error) {
    if (error instanceof DOMException && error.name === 'AbortError') return; // closed unpicked
    throw error;
  }
  /** @type {Tree} */
  const tree = { files: [], folders: [] };
  await walkHandle(folder, folder.name, tree);
  queue.add(tree, where.workspace, where.parent, where.limits);
});

document.addEventListener('dragover', (event) => {
  if (!destination() || !event.dataTransfer?.types.includes('Files')) return;
  event.preventDefault();
  event.dataTransfer.dropEffect = 'copy';
  document.getElementById('upload')?.classList.add('dragging');
});

document.addEventListener('dragleave', (event) => {
  if (event.relatedTarget === null) document.getElementById('upload')?.classList.remove('dragging');
});

document.addEventListener('drop', async (event) => {
  const where = destination();
  if (!where || !event.dataTransfer) return;
  event.preventDefault();
  document.getElementById('upload')?.classList.remove('dragging');
  // The entries must be taken before the event ends; reading them may not.
  const items = Array.from(event.dataTransfer.items)
    .filter((item) => item.kind === 'file')
    .map((item) => ({ entry: item.webkitGetAsEntry(), file: item.getAsFile() }));
  /** @type {Tree} */
  const tree = { files: [], folders: [] };
  for (const { entry, file } of items) {
    if (entry) {
      await walkEntry(entry, '', tree);
    } else if (file) {
      tree.files.push({ file, path: file.name });
    }
  }
  queue.add(tree, where.workspace, where.parent, where.limits);
});

// Leaving while bytes are in flight loses nothing saved, but asks first.
window.addEventListener('beforeunload', (event) => {
  if (queue.uploads.some((u) => u.state === 'uploading')) event.preventDefault();
});
