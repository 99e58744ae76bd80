// The web page for phones and any browser: the served folder listed, files
// and folders downloaded, and uploads that resume and are checked end to end
// by SHA-256. Plain JavaScript that the browser runs as it is; nothing from
// the network ever becomes markup.

/** How much of a file the page reads at a time to hash it. */
const PIECE = 4 * 1024 * 1024;

const $ = (id) => document.getElementById(id);

/** Builds an element: strings become text, `on*` adds listeners, `attrs` sets attributes. */
function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === "attrs") {
      for (const [name, attr] of Object.entries(value)) node.setAttribute(name, String(attr));
    } else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node[key] = value;
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/** A size: `512 B`, `1.50 KiB`, `3.20 GiB`. */
function formatBytes(bytes) {
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${units[unit]}`;
}

/** A duration: `0.4 s`, `12 s`, `3 min 05 s`. */
function formatDuration(ms) {
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.round(s % 60)).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

// One formatter for every row: toLocaleString builds one a call, most of a long listing's time.
const WHEN = new Intl.DateTimeFormat([], { dateStyle: "medium", timeStyle: "short" });

function formatWhen(ms) {
  return WHEN.format(new Date(ms));
}

/** A path inside the served folder: its parts joined by `/`, none empty. */
function join(...parts) {
  return parts.filter((part) => part !== "").join("/");
}

/** A path as an address: each part percent-encoded, the slashes kept. */
function encodePath(path) {
  return path.split("/").map(encodeURIComponent).join("/");
}

/** A refusal from the server, or a cut connection (`code` "cut"). */
class Refused extends Error {
  constructor(code, message, body = {}) {
    super(message);
    this.code = code;
    this.body = body;
  }
}

/** The answer's JSON, or a Refused with the server's sentence. */
async function answer(response) {
  const type = response.headers.get("content-type") ?? "";
  const body = type.startsWith("application/json") ? await response.json() : {};
  if (response.ok) return body;
  const text = body.error ?? `The server answered ${response.status}: reload the page`;
  throw new Refused(body.code ?? "internal", text, body);
}

async function call(method, url, body) {
  let response;
  try {
    response = await fetch(url, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  } catch {
    throw new Refused("cut", "The server cannot be reached: check the Wi-Fi, then try again");
  }
  return await answer(response);
}

// ---- The listing ----

let info = { name: "privateshare", readOnly: true };
/** The folder shown, "" for the top. */
let here = "";

/** The folder named by the address: `#/Photos/2024`. */
function folderOfAddress() {
  const hash = location.hash.replace(/^#\/?/, "");
  try {
    return hash.split("/").map(decodeURIComponent).filter((part) => part !== "").join("/");
  } catch {
    return "";
  }
}

function folderHref(path) {
  return `#/${encodePath(path)}`;
}

function showCrumbs(path) {
  const parts = path === "" ? [] : path.split("/");
  const crumbs = [el("li", {}, crumb(info.name, "", parts.length === 0))];
  parts.forEach((part, i) => {
    const to = parts.slice(0, i + 1).join("/");
    crumbs.push(el("li", {}, crumb(part, to, i === parts.length - 1)));
  });
  $("crumbs").querySelector("ol").replaceChildren(...crumbs);
}

function crumb(text, path, current) {
  if (current) return el("span", { attrs: { "aria-current": "page" } }, text);
  return el("a", { href: folderHref(path) }, text);
}

function entryRow(entry) {
  const path = join(here, entry.name);
  const when = entry.mtime ? formatWhen(entry.mtime) : "";
  if (entry.type === "folder") {
    return el(
      "li",
      { className: "entry folder" },
      el(
        "a",
        { className: "open", href: folderHref(path) },
        el("span", { className: "icon", attrs: { "aria-hidden": "true" } }),
        el("span", { className: "name" }, entry.name),
        el("span", { className: "meta" }, when ? `Folder · ${when}` : "Folder"),
      ),
      el("a", {
        className: "button small",
        href: `/zip/${encodePath(path)}`,
        download: `${entry.name}.zip`,
        attrs: { "aria-label": `Download ${entry.name} as .zip` },
      }, ".zip"),
    );
  }
  return el(
    "li",
    { className: "entry file" },
    el(
      "a",
      { className: "open", href: `/files/${encodePath(path)}`, download: entry.name },
      el("span", { className: "icon", attrs: { "aria-hidden": "true" } }),
      el("span", { className: "name" }, entry.name),
      el(
        "span",
        { className: "meta" },
        [formatBytes(entry.size ?? 0), when].filter(Boolean).join(" · "),
      ),
    ),
  );
}

const byName = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });
let listing = 0;

/** Lists the folder the address names; a newer call wins over an older one still waiting. */
async function list() {
  const path = folderOfAddress();
  const mine = ++listing;
  here = path;
  showCrumbs(path);
  const zip = $("zip");
  zip.href = `/zip/${encodePath(path)}`;
  const label = path === "" ? info.name : path.split("/").pop();
  zip.download = `${label}.zip`;
  zip.setAttribute("aria-label", `Download ${label} as .zip`);
  $("loading").hidden = false;
  try {
    const answered = await call("GET", `/api/list?path=${encodeURIComponent(path)}`);
    if (mine !== listing) return;
    const entries = [...answered.entries].sort((a, b) =>
      a.type === b.type ? byName.compare(a.name, b.name) : a.type === "folder" ? -1 : 1
    );
    $("entries").replaceChildren(...entries.map(entryRow));
    $("list-empty").hidden = entries.length > 0;
    $("list-error").textContent = "";
    $("count").textContent = entries.length ? `(${entries.length})` : "";
    $("zip").hidden = false;
  } catch (error) {
    if (!(error instanceof Refused)) throw error;
    if (mine !== listing) return;
    $("entries").replaceChildren();
    $("list-empty").hidden = true;
    $("count").textContent = "";
    $("zip").hidden = true;
    $("list-error").textContent = error.message;
  } finally {
    if (mine === listing) $("loading").hidden = true;
  }
}

/**
 * A download is asked first with HEAD: a browser's own download of a refused
 * address fails without a word (Chromium says "canceled"), so the page says
 * why instead (signed out after a restart, a file gone since the listing).
 */
async function download(event) {
  const link = event.target.closest?.("a[download]");
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey) {
    return;
  }
  event.preventDefault();
  let response;
  try {
    response = await fetch(link.href, { method: "HEAD" });
  } catch {
    $("list-error").textContent = "The server cannot be reached: check the Wi-Fi, then try again";
    return;
  }
  if (response.ok) {
    // The answer is an attachment: the browser saves it and the page stays.
    location.assign(link.href);
    return;
  }
  const name = link.getAttribute("download") || "It";
  const why = response.status === 401
    ? "This browser is no longer let in (the server was restarted?): open the server's address with its key again"
    : response.status === 404
    ? `"${name}" is no longer on the server: the list is shown again`
    : response.status === 503
    ? "The server is busy: try again in a moment"
    : `The server refused the download (${response.status}): try again`;
  if (response.status === 404) await relist();
  $("list-error").textContent = why;
}

let relisting = false;
let relistAgain = false;
/** Lists the folder again once an upload landed, one listing at a time and none missed. */
async function relist() {
  if (relisting) {
    relistAgain = true;
    return;
  }
  relisting = true;
  do {
    relistAgain = false;
    await list();
  } while (relistAgain);
  relisting = false;
}

// ---- Uploads ----

const queue = [];
let sending = false;

/** Uploads one at a time, in the order they were chosen. */
async function pump() {
  if (sending) return;
  sending = true;
  while (queue.length > 0) {
    const job = queue.shift();
    try {
      await job.run();
    } catch (error) {
      // A mistake of this page's: the next uploads still go.
      console.error(error);
    }
  }
  sending = false;
}

function enqueue(job) {
  queue.push(job);
  pump();
}

/** A row of the uploads list: what, progress, detail, and the buttons of its state. */
function newRow(label) {
  const row = el(
    "li",
    { className: "transfer upload" },
    el("span", { className: "what" }, label),
    el("progress", { max: 1, value: 0 }),
    el("span", { className: "detail" }),
    el("span", { className: "actions" }),
  );
  $("uploads").append(row);
  return row;
}

function showRow(row, state, detail, buttons = [], progress) {
  const [, bar, text, actions] = row.children;
  row.dataset.state = state;
  text.textContent = detail;
  text.className = `detail ${state === "failed" ? "bad" : ""}`;
  bar.hidden = progress === undefined;
  if (progress !== undefined) bar.value = progress;
  actions.replaceChildren(
    ...buttons.map(([text, act, primary]) =>
      el("button", {
        type: "button",
        className: primary ? "small primary" : "small",
        attrs: { "aria-label": `${text}: ${row.firstChild.textContent}` },
        onclick: act,
      }, text)
    ),
  );
}

/** Reads `file` from `start` to `end` in pieces into `hasher`; stops when `live()` turns false. */
async function hashRange(hasher, file, start, end, live = () => true) {
  for (let at = start; at < end && live(); at += PIECE) {
    let piece;
    try {
      piece = await file.slice(at, Math.min(end, at + PIECE)).arrayBuffer();
    } catch {
      // The file changed or went away since it was chosen.
      throw new Refused("unreadable", "This file could not be read: choose it again");
    }
    hasher.update(new Uint8Array(piece));
  }
}

/** Sends `file` from `offset` with a PUT, reporting progress. */
function put(upload, offset) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    upload.xhr = xhr;
    xhr.open("PUT", `/api/uploads/${encodeURIComponent(upload.id)}?offset=${offset}`);
    xhr.upload.onprogress = (event) => upload.progress(offset + event.loaded);
    xhr.onload = () => {
      let body = {};
      try {
        body = JSON.parse(xhr.responseText || "{}");
      } catch {
        // Not JSON: the status says enough.
      }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else {
        const text = body.error ?? `The server answered ${xhr.status}: try again`;
        reject(new Refused(body.code ?? "internal", text, body));
      }
    };
    xhr.onerror = () => reject(new Refused("cut", "Cut off"));
    xhr.onabort = () => reject(new Refused("cancelled", "Cancelled"));
    xhr.send(upload.file.slice(offset));
  });
}

/** One file to send: `path` is where it goes; `batch` is the folder upload it belongs to. */
class Upload {
  constructor(file, path, label, batch) {
    this.file = file;
    this.path = path;
    this.batch = batch;
    /** Whether `path` is the server's own answer: a resume asks for exactly it. */
    this.begun = false;
    this.retries = 0;
    this.onExists = undefined;
    this.row = newRow(label);
    this.done = 0;
    showRow(this.row, "waiting", `Waiting · ${formatBytes(file.size)}`);
  }

  async run() {
    if (this.batch?.skipped) return this.skip("Skipped with its folder");
    this.live = true;
    this.cancelled = false;
    this.showRunning(0);
    try {
      await this.send();
    } catch (error) {
      if (!(error instanceof Refused)) throw error;
      await this.ended(error);
    } finally {
      this.live = false;
      this.xhr = undefined;
    }
  }

  async send() {
    let begun;
    try {
      begun = await call("POST", "/api/uploads", {
        path: this.batch && !this.begun ? this.batch.place(this.path) : this.path,
        size: this.file.size,
        ...(this.onExists ? { onExists: this.onExists } : {}),
      });
    } catch (error) {
      if (error instanceof Refused && error.code === "exists") return this.exists();
      throw error;
    }
    // From here on it is this path, whatever happens: a resume asks for the same one.
    this.id = begun.id;
    this.path = begun.path;
    this.begun = true;
    this.onExists = undefined;
    const hasher = await globalThis.hashwasm.createSHA256();
    hasher.init();
    let offset = begun.offset ?? 0;
    if (offset > 0) {
      // A long file's held part takes a moment to read: the row says what is happening.
      const checking = `Checking the ${formatBytes(offset)} the server holds`;
      const cancel = ["Cancel", () => this.cancel()];
      showRow(this.row, "running", checking, [cancel], offset / this.file.size);
      await hashRange(hasher, this.file, 0, offset, () => this.live);
      if (this.cancelled) throw new Refused("cancelled", "Cancelled");
      const state = hasher.save();
      if (hasher.digest("hex") === begun.prefixSha256) {
        hasher.init();
        hasher.load(state);
      } else {
        // What the server holds is not the start of this file: start again.
        offset = (await call("POST", `/api/uploads/${encodeURIComponent(this.id)}/restart`))
          .offset ?? 0;
        hasher.init();
      }
    }
    this.resumedFrom = offset;
    this.started = performance.now();
    this.showRunning(offset);
    const hashing = hashRange(hasher, this.file, offset, this.file.size, () => this.live);
    // Awaited below; a failed PUT must not leave its rejection unhandled.
    hashing.catch(() => {});
    if (this.cancelled) throw new Refused("cancelled", "Cancelled");
    if (offset < this.file.size) await put(this, offset);
    await hashing;
    if (this.cancelled) throw new Refused("cancelled", "Cancelled");
    showRow(this.row, "running", "Checking", [], 1);
    const sha256 = hasher.digest("hex");
    const committed = await call("POST", `/api/uploads/${encodeURIComponent(this.id)}/commit`, {
      sha256,
    });
    this.finished(committed.path ?? this.path);
  }

  progress(done) {
    this.done = done;
    this.showRunning(done);
  }

  showRunning(done) {
    const size = this.file.size;
    const parts = [`${formatBytes(done)} of ${formatBytes(size)}`];
    const seconds = this.started ? (performance.now() - this.started) / 1000 : 0;
    const rate = seconds > 0.2 ? (done - this.resumedFrom) / seconds : 0;
    if (size > 0 && done >= size) parts.push("checking");
    else if (rate > 0) {
      parts.push(`${formatBytes(rate)}/s`, `${formatDuration(((size - done) / rate) * 1000)} left`);
    }
    if (this.resumedFrom > 0) parts.push(`resumed at ${formatBytes(this.resumedFrom)}`);
    const cancel = ["Cancel", () => this.cancel()];
    showRow(this.row, "running", parts.join(" · "), [cancel], size ? done / size : 0);
  }

  finished(path) {
    const ms = performance.now() - this.started;
    const moved = this.file.size - this.resumedFrom;
    const parts = [`Done · ${formatBytes(this.file.size)}`];
    // A speed means something only for a file that took a while.
    if (moved >= 1024 * 1024 && ms > 0) {
      parts[0] += ` in ${formatDuration(ms)}`;
      parts.push(`${formatBytes(moved / (ms / 1000))}/s`);
    }
    if (this.resumedFrom > 0) parts.push(`resumed at ${formatBytes(this.resumedFrom)}`);
    if (path.split("/").pop() !== this.file.name) parts.push(`saved as ${path.split("/").pop()}`);
    showRow(this.row, "done", parts.join(" · "), [], 1);
    this.row.dataset.path = path;
    relist();
  }

  async ended(error) {
    if (error.code === "cancelled") {
      // The server forgets it and removes what it held (nothing to resume): asked here, once
      // the upload has stopped, so that a cancel before the server answered is not missed.
      if (this.id) {
        await call("DELETE", `/api/uploads/${encodeURIComponent(this.id)}`).catch(() => {});
      }
      showRow(this.row, "cancelled", "Cancelled");
    } else if (error.code === "cut") {
      const at = this.done > 0
        ? ` after ${formatBytes(this.done)} of ${formatBytes(this.file.size)}`
        : "";
      showRow(this.row, "cut", `Cut off${at}: Resume continues where it stopped`, [[
        "Resume",
        () => this.again(),
        true,
      ]], this.file.size ? this.done / this.file.size : 0);
    } else if (error.body.offset !== undefined && this.retries++ < 3) {
      // The server holds another amount than this page thought: ask it again.
      this.again();
    } else {
      showRow(this.row, "failed", error.message, [["Try again", () => this.again()]]);
    }
  }

  exists() {
    const name = this.path.split("/").pop();
    const all = this.batch?.choice;
    if (all === "keep-both") return this.keepBoth();
    if (all === "skip") return this.skip(`Skipped: “${name}” is already here`);
    const buttons = [["Keep both", () => this.keepBoth(), true], ["Skip", () => this.skip()]];
    if (this.batch) {
      buttons.push(
        ["Keep both for all", () => this.batch.chose("keep-both", this), true],
        ["Skip all", () => this.batch.chose("skip", this)],
      );
    }
    showRow(this.row, "asking", `A file named “${name}” is already here`, buttons);
  }

  keepBoth() {
    this.onExists = "keep-both";
    this.again();
  }

  skip(why = "Skipped") {
    showRow(this.row, "skipped", why);
  }

  again() {
    showRow(this.row, "waiting", `Waiting · ${formatBytes(this.file.size)}`);
    enqueue(this);
  }

  cancel() {
    this.live = false;
    this.cancelled = true;
    if (this.xhr) this.xhr.abort();
  }
}

/**
 * A folder upload: its top folder (Keep both, Add to it, or Skip when the name
 * is taken), its folders, then its files; a choice "for all" holds for the
 * rest of its files.
 */
class FolderUpload {
  constructor(top, folders, files, labels) {
    this.top = top;
    this.placed = top;
    this.folders = folders;
    this.choice = undefined;
    this.skipped = false;
    this.onExists = undefined;
    this.merge = false;
    this.row = newRow(`${top.split("/").pop()}/`);
    this.uploads = files.map(({ file, path }, i) => new Upload(file, path, labels[i], this));
    showRow(
      this.row,
      "waiting",
      `Waiting · ${files.length} ${files.length === 1 ? "file" : "files"}`,
    );
  }

  /** Where a file of this folder goes, once the top folder has its final name. */
  place(path) {
    return this.placed + path.slice(this.top.length);
  }

  async run() {
    try {
      if (!this.merge) {
        try {
          const made = await call("POST", "/api/folders", {
            path: this.top,
            ...(this.onExists ? { onExists: this.onExists } : {}),
          });
          this.placed = made.path ?? this.top;
        } catch (error) {
          if (error instanceof Refused && error.code === "exists") return this.exists();
          throw error;
        }
      }
      for (const folder of this.folders) {
        await call("POST", "/api/folders", { path: this.place(folder) }).catch((error) => {
          // A folder already there is fine: its files are asked about one by one.
          if (!(error instanceof Refused && error.code === "exists")) throw error;
        });
      }
    } catch (error) {
      if (!(error instanceof Refused)) throw error;
      showRow(this.row, "failed", error.message, [["Try again", () => enqueue(this)]]);
      this.skipAll("Not sent: its folder could not be made");
      return;
    }
    const saved = this.placed === this.top ? "" : ` · saved as ${this.placed.split("/").pop()}`;
    showRow(this.row, "done", `Folder ready · ${this.uploads.length} files${saved}`);
    relist();
    for (const upload of this.uploads) enqueue(upload);
  }

  exists() {
    const name = this.top.split("/").pop();
    showRow(this.row, "asking", `A folder named “${name}” is already here`, [
      ["Keep both", () => this.again("keep-both"), true],
      ["Add to it", () => this.again("merge")],
      ["Skip", () => this.skipAll("Skipped with its folder", true)],
    ]);
  }

  again(how) {
    if (how === "merge") this.merge = true;
    else this.onExists = how;
    showRow(this.row, "waiting", "Waiting");
    enqueue(this);
  }

  skipAll(why, byChoice = false) {
    this.skipped = true;
    if (byChoice) showRow(this.row, "skipped", "Skipped");
    for (const upload of this.uploads) upload.skip(why);
  }

  /** A choice for every file of this folder whose name is taken, starting with `upload`. */
  chose(choice, upload) {
    this.choice = choice;
    upload.exists();
    for (const other of this.uploads) {
      if (other !== upload && other.row.dataset.state === "asking") other.exists();
    }
  }
}

/** Sends files chosen or dropped into the folder shown. */
function sendFiles(files, into = here) {
  for (const file of files) enqueue(new Upload(file, join(into, file.name), file.name));
}

/** Sends one folder: `files` are `{file, rel}` with `rel` starting with the folder's name. */
function sendFolder(name, files, folders = [], into = here) {
  const top = join(into, name);
  const inside = new Set(folders.filter((rel) => rel !== name));
  for (const { rel } of files) {
    const parts = rel.split("/").slice(0, -1);
    for (let i = 2; i <= parts.length; i++) inside.add(parts.slice(0, i).join("/"));
  }
  const byDepth = [...inside].sort((a, b) => a.split("/").length - b.split("/").length);
  enqueue(
    new FolderUpload(
      top,
      byDepth.map((rel) => join(into, rel)),
      files.map(({ file, rel }) => ({ file, path: join(into, rel) })),
      files.map(({ rel }) => rel),
    ),
  );
}

/** The files of a folder chosen with the folder picker, grouped by their top folder. */
function sendChosenFolder(files) {
  const tops = new Map();
  for (const file of files) {
    const rel = file.webkitRelativePath || file.name;
    const name = rel.split("/")[0];
    if (!tops.has(name)) tops.set(name, []);
    tops.get(name).push({ file, rel });
  }
  for (const [name, list] of tops) sendFolder(name, list);
}

/** Walks a dropped folder: its files (with paths from the dropped folder) and its folders. */
async function walk(entry, files, folders) {
  if (entry.isFile) {
    const file = await new Promise((resolve, reject) => entry.file(resolve, reject));
    files.push({ file, rel: entry.fullPath.replace(/^\//, "") });
    return;
  }
  folders.push(entry.fullPath.replace(/^\//, ""));
  const reader = entry.createReader();
  while (true) {
    const batch = await new Promise((resolve, reject) => reader.readEntries(resolve, reject));
    if (batch.length === 0) break;
    for (const child of batch) await walk(child, files, folders);
  }
}

async function dropped(items) {
  const into = here;
  // Entries must be taken before the first await: the drop's data is gone after it. A
  // browser without entries (or a drop made by a script) gives plain files.
  const taken = [...items].filter((item) => item.kind === "file").map((item) => ({
    entry: item.webkitGetAsEntry?.() ?? undefined,
    file: item.getAsFile(),
  }));
  const loose = [];
  for (const { entry, file } of taken) {
    try {
      if (!entry) {
        if (file) loose.push(file);
      } else if (entry.isFile) {
        loose.push(await new Promise((resolve, reject) => entry.file(resolve, reject)));
      } else {
        const files = [];
        const folders = [];
        await walk(entry, files, folders);
        sendFolder(entry.name, files, folders, into);
      }
    } catch {
      const row = newRow(entry?.name ?? file?.name ?? "?");
      showRow(row, "failed", "This could not be read: choose it with Send files or Send a folder");
    }
  }
  sendFiles(loose, into);
}

function setUpSending() {
  const files = $("files-input");
  const folder = $("folder-input");
  $("send-files").addEventListener("click", () => files.click());
  $("send-folder").addEventListener("click", () => folder.click());
  // A browser that cannot pick a folder (a phone's) offers files alone.
  $("send-folder").hidden = !("webkitdirectory" in folder);
  files.addEventListener("change", () => {
    sendFiles([...files.files]);
    files.value = "";
  });
  folder.addEventListener("change", () => {
    sendChosenFolder([...folder.files]);
    folder.value = "";
  });
  const drop = $("drop");
  let depth = 0;
  document.addEventListener("dragenter", (event) => {
    if (info.readOnly) return;
    event.preventDefault();
    depth++;
    drop.classList.add("over");
  });
  document.addEventListener("dragleave", () => {
    depth = Math.max(0, depth - 1);
    if (depth === 0) drop.classList.remove("over");
  });
  document.addEventListener("dragover", (event) => {
    if (!info.readOnly) event.preventDefault();
  });
  document.addEventListener("drop", (event) => {
    depth = 0;
    drop.classList.remove("over");
    if (info.readOnly || !event.dataTransfer) return;
    event.preventDefault();
    dropped(event.dataTransfer.items);
  });
}

async function start() {
  try {
    info = await call("GET", "/api/info");
  } catch (error) {
    if (!(error instanceof Refused)) throw error;
    $("list-error").textContent = error.message;
  }
  $("name").textContent = info.name;
  document.title = `${info.name} · privateshare`;
  $("read-only").hidden = !info.readOnly;
  $("send").hidden = info.readOnly !== false;
  if (info.tls && info.code) {
    $("code").textContent = info.code;
    $("trust").hidden = false;
  }
  setUpSending();
  document.addEventListener("click", download);
  addEventListener("hashchange", list);
  await list();
}

start();
