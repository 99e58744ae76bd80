// The client's page: the server's listing, Get into a local folder, Put by
// choosing or dropping files (each streams to the program as a request
// body), progress (transfer_rows.js), Cancel, the fixes a failure offers
// (Replace, Keep both, Skip), and the log.
import { $, addLog, answer, api, ask, follow, pickFolder, showLink } from "./common.js";
import {
  applyFilter,
  currentFolder,
  folderOf,
  renderListing,
  renderSelection,
  selected,
  upTo,
} from "./listing.js";
import { LIVE, transferRow, updateRow } from "./transfer_rows.js";
import { recallServers, remember, security, server, serverReady } from "./address_fields.js";
import { askTrust, renderNearby, setupFinding } from "./finding.js";

/** Transfers by id: the program's reports, and puts still waiting in this page. */
const transfers = new Map();
/** Files chosen to put, sent one after another. */
const queue = [];
/** The put being sent now: its id and the controller of its request. */
let sending = null;
/** Who waits for the end of which transfer. */
const ends = new Map();
const FINAL = ["done", "failed", "cancelled", "restarted"];
/** What each transfer of this page was asked for, to offer Replace, Keep both or Skip after. */
const asked = new Map();
let failed = false;
/** Whether the page has listed the server it opened on (at most once, and only when it can). */
let opened = false;

function note(message) {
  $("server-error").textContent = message ?? "";
  $("server-note").textContent = "";
  if (message) setFailed(true);
}

function setFailed(value) {
  failed = value;
  renderStatus();
}

function renderStatus() {
  const pill = $("status");
  const busy = [...transfers.values()].filter((t) => LIVE.includes(t.state));
  if (busy.length > 0) {
    pill.dataset.state = "busy";
    pill.textContent = `Transferring · ${busy.length}`;
  } else if (failed) {
    pill.dataset.state = "error";
    pill.textContent = "Error: see the log";
  } else {
    pill.dataset.state = "running";
    pill.textContent = "Ready";
  }
}

// The server's files and folders.

/**
 * Lists a folder of the server: `steps` leads to it (default: the one shown). A server that
 * speaks TLS is asked again in TLS, once; one whose certificate is not trusted yet is asked
 * about: Trust lists it pinned to the certificate compared, Cancel sends it nothing.
 */
async function listFiles(steps, again = true) {
  note();
  if (!serverReady()) return;
  $("list").disabled = true;
  $("refresh").disabled = true;
  remember();
  const trail = Array.isArray(steps) ? steps : upTo(Infinity);
  const asked = server();
  try {
    const folder = folderOf(trail);
    const result = await api("list", { ...asked, ...security(), folder });
    // Another server was chosen meanwhile: this answer is about one the fields no longer name,
    // and must not ask about it, pin its certificate, tick TLS or show its files under them.
    if (!named(asked)) return;
    if (result.error) {
      if (result.tls !== undefined) setTls(result.tls);
      if (again && result.tls === true) return await listFiles(trail, false);
      if (result.trust) return await trustThenList(result.trust, trail, asked);
      note(result.error);
      return;
    }
    setFailed(false);
    renderListing(trail, result.files, { open: listFiles, get: (path) => getFile(path) });
  } finally {
    $("list").disabled = false;
    $("refresh").disabled = false;
  }
}

/** Whether the address fields still name this server. */
function named(asked) {
  const now = server();
  return now.host === asked.host && now.port === asked.port;
}

/** Asks about a server's certificate; Trust pins its full fingerprint and lists again. */
async function trustThenList(trust, trail, asked) {
  const trusted = await askTrust(trust);
  // The answer is about the server asked about: never pinned on another one named since.
  if (!named(asked)) return;
  if (!trusted) {
    // A cancel is not an error: nothing was sent, nothing is remembered.
    $("server-note").textContent =
      "Not connected: the server was not trusted, and was sent nothing";
    return;
  }
  $("tls").checked = true;
  $("fingerprint").value = trust.fingerprint;
  remember();
  await listFiles(trail, false);
  // Now remembered: "On this network" lists it too.
  api("nearby");
}

/** The TLS box as a failure's fix needs it (the message says so); unticked, no fingerprint either. */
function setTls(tls) {
  $("tls").checked = tls;
  if (!tls) $("fingerprint").value = "";
  remember();
}

/**
 * Gets a file, or a folder whole, into the download folder; `how` is
 * `{ force: true }` to replace what is there, `{ keep: true }` to keep both.
 */
async function getFile(name, how = {}) {
  note();
  if (!serverReady()) return;
  const folder = $("folder").value.trim();
  const id = crypto.randomUUID();
  asked.set(id, { name });
  const result = await api("get", { id, name, ...server(), ...security(), folder, ...how });
  if (result.error) note(result.error);
}

/** What a failure's button does: Replace, Keep both (under a free name) or Skip. */
function act(t, action) {
  // A get shown to a page that opened later is asked for again by its name.
  const source = asked.get(t.id) ?? (t.op === "get" ? { name: t.name } : undefined);
  // The program forgets the failure (or keeps it as skipped) for every page.
  api("dismiss", { id: t.id, action: source ? action : "skip" });
  if (action === "skip" || !source) return;
  if (t.op === "get") getFile(source.name, action === "replace" ? { force: true } : { keep: true });
  else if (source.file) putFiles([source.file], { to: source.to, keep: true });
}

/**
 * Puts a folder of this computer whole, into the folder the list shows: the
 * program puts it by its path, as the command line does (resume,
 * verification, the same summary).
 */
async function putFolder(path, to = currentFolder()) {
  note();
  if (!serverReady()) return;
  remember();
  const id = crypto.randomUUID();
  asked.set(id, { path, to });
  const result = await api("put-folder", { id, path, to, ...server(), ...security() });
  if (result.error) note(result.error);
}

/** Lets the user choose the folder to put, where the program can read it. */
async function chooseFolder(title = "Put a folder on the server") {
  const path = await pickFolder(lastFolder ?? $("folder").value, title);
  $("choose-folder").focus();
  if (!path) return;
  lastFolder = path;
  putFolder(path);
}

/** The folder put last, where the chooser opens next. */
let lastFolder = null;

// Puts: one request at a time, the file itself as the body.

function putFiles(files, { to = currentFolder(), keep = false } = {}) {
  note();
  if (!serverReady()) return;
  // Into the folder being looked at.
  for (const file of files) {
    const id = crypto.randomUUID();
    queue.push({ id, file, to, keep });
    asked.set(id, { file, to });
    transfers.set(id, {
      id,
      op: "put",
      name: to ? `${to}/${file.name}` : file.name,
      state: "waiting",
      done: 0,
      total: file.size,
      resumedFrom: 0,
      local: true,
    });
  }
  renderTransfers();
  if (!sending) sendNext();
}

async function sendNext() {
  const next = queue.shift();
  if (!next) {
    sending = null;
    return;
  }
  let { id } = next;
  let resume = true;
  while (true) {
    const controller = new AbortController();
    sending = { id, controller };
    const trust = security();
    const query = new URLSearchParams({
      id,
      name: next.file.name,
      to: next.to,
      ...server(),
      resume: resume ? "1" : "0",
      keep: next.keep ? "1" : "0",
    });
    const ended = settled(id);
    // A fetch that fails was cancelled, or the program stopped reading the
    // upload (a refusal): the program's own report says which.
    const sent = fetch(`api/put?${query}`, {
      method: "POST",
      headers: {
        "x-file-size": String(next.file.size),
        "x-tls": trust.tls ? "1" : "0",
        "x-fingerprint": trust.fingerprint,
        "x-password": encodeURIComponent(trust.password),
      },
      body: next.file,
      signal: controller.signal,
    }).then(answer).catch(() => ({}));
    const early = await Promise.race([sent, ended.then(() => null)]);
    if (early?.error) {
      // Refused before it began (a wrong port, say): there is no report to wait for.
      transfers.delete(id);
      ends.delete(id);
      note(early.error);
      break;
    }
    const end = await Promise.race([ended, sent.then(() => wait(15_000))]);
    // The upload is over either way: stop sending what the program no longer reads.
    controller.abort();
    if (end?.state !== "restarted") break;
    // The server's partial upload is of other data: send the file from its start.
    id = crypto.randomUUID();
    asked.set(id, asked.get(next.id));
    resume = false;
  }
  remember();
  renderTransfers();
  sendNext();
}

function wait(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Resolves with a transfer's last report once the program says it ended. */
function settled(id) {
  return new Promise((resolve) => ends.set(id, resolve));
}

async function cancel(id) {
  const waiting = queue.findIndex((item) => item.id === id);
  if (waiting >= 0) {
    queue.splice(waiting, 1);
    transfers.set(id, { ...transfers.get(id), state: "cancelled", message: "Cancelled" });
    renderTransfers();
    return;
  }
  await api("cancel", { id });
  if (sending?.id === id) sending.controller.abort();
}

/** Opens the folder a finished get saved into: the program knows which, by the id. */
async function showFolder(id) {
  const reply = await api("show", { id });
  if (reply.error) addLog($("log"), { time: Date.now(), line: reply.error, level: "error" });
}

/** The rows of the transfer list by id, updated in place so that focus stays on a Cancel button. */
const rowsById = new Map();

function renderTransfers() {
  const list = $("transfers");
  for (const [id, row] of rowsById) {
    if (!transfers.has(id)) {
      row.remove();
      rowsById.delete(id);
    }
  }
  for (const t of transfers.values()) {
    let row = rowsById.get(t.id);
    if (!row) {
      const fix = (action) => act(transfers.get(t.id) ?? t, action);
      row = transferRow(t, { cancel, act: fix, show: showFolder });
      rowsById.set(t.id, row);
      list.prepend(row);
    }
    updateRow(row, t);
  }
  const items = [...transfers.values()];
  $("transfers-empty").hidden = items.length > 0;
  const active = items.filter((t) => LIVE.includes(t.state)).length;
  $("transfers-count").textContent = active > 0 ? `${active} in progress` : "";
  renderStatus();
}

function onEvent(event) {
  switch (event.type) {
    case "config": {
      const { config } = event;
      $("host").value = config.host;
      $("port").value = config.port === null ? "" : String(config.port);
      $("folder").value = config.folder;
      recallServers(config);
      // One listing when the page opens, only one that can succeed: an address, and no
      // password needed (this page has none until it is typed).
      const ready = config.host !== "" && config.port !== null;
      if (!opened && ready && (!config.password || $("password").value !== "")) listFiles([]);
      opened = true;
      break;
    }
    case "nearby":
      renderNearby(event.servers);
      break;
    case "forget":
      transfers.delete(event.id);
      renderTransfers();
      break;
    case "log":
      addLog($("log"), event);
      if (event.level === "error") setFailed(true);
      break;
    case "transfer": {
      const t = event.transfer;
      // Only a transfer that ends while this page watches lists again or sets the TLS box, not
      // the finished ones a page that opens is shown.
      const live = LIVE.includes(transfers.get(t.id)?.state);
      // A put's file is in the page that chose it: another page can only skip it.
      if (t.op === "put" && !asked.get(t.id)?.file) {
        t.actions = t.actions?.filter((a) => a === "skip");
      }
      transfers.set(t.id, t);
      if (FINAL.includes(t.state)) {
        ends.get(t.id)?.(t);
        ends.delete(t.id);
      }
      renderTransfers();
      if (live && t.state === "done" && t.op === "put") listFiles();
      if (live && t.state === "failed" && t.tls !== undefined) setTls(t.tls);
      break;
    }
  }
}

// Controls.

$("server").addEventListener("submit", (event) => {
  event.preventDefault();
  // The server's top: the server may be another one.
  listFiles([]);
});
$("refresh").addEventListener("click", listFiles);
$("filter").addEventListener("input", applyFilter);
$("select-all").addEventListener("change", () => {
  for (const tr of $("files").tBodies[0].rows) {
    const box = tr.querySelector("input[type=checkbox]");
    if (!tr.hidden && !box.disabled) box.checked = $("select-all").checked;
  }
  renderSelection();
});
// Several at once: each its own get, one after another, as the program runs them.
$("get-selected").addEventListener("click", async () => {
  const paths = selected();
  for (const box of $("files").querySelectorAll("tbody input[type=checkbox]")) box.checked = false;
  renderSelection();
  for (const path of paths) await getFile(path);
});
// The top bar stays in view; the list's header stays just under it.
new ResizeObserver(() => {
  document.documentElement.style.setProperty(
    "--bar-height",
    `${$("status").closest(".bar").offsetHeight}px`,
  );
}).observe($("status").closest(".bar"));
$("browse").addEventListener("click", async () => {
  const folder = await pickFolder($("folder").value, "Save downloads to");
  if (folder) {
    $("folder").value = folder;
    remember();
  }
  $("folder").focus();
});
$("choose").addEventListener("click", () => $("files-input").click());
$("choose-folder").addEventListener("click", () => chooseFolder());
$("files-input").addEventListener("change", (event) => {
  putFiles([...event.target.files]);
  event.target.value = "";
});
$("quit").addEventListener("click", async () => {
  // With a transfer running, Quit asks first: it would cancel it.
  const busy = [...transfers.values()].filter((t) => LIVE.includes(t.state)).length;
  const quit = busy === 0 || await ask(
    "Quit while transferring?",
    `${busy === 1 ? "A transfer is" : `${busy} transfers are`} still running: quitting cancels ${
      busy === 1 ? "it" : "them"
    }. It resumes where it stopped when you start it again.`,
    "Keep running",
    "Quit",
  );
  if (quit) api("quit");
});

// Dropping files anywhere on the page puts them. A browser does not tell the page where a
// dropped folder is: the chooser opens, for the user to point at it once.
let dragDepth = 0;
document.addEventListener("dragenter", (event) => {
  event.preventDefault();
  dragDepth++;
  $("drop").classList.add("over");
});
document.addEventListener("dragleave", () => {
  if (--dragDepth <= 0) $("drop").classList.remove("over");
});
document.addEventListener("dragover", (event) => event.preventDefault());
document.addEventListener("drop", (event) => {
  event.preventDefault();
  dragDepth = 0;
  $("drop").classList.remove("over");
  const files = [];
  const folders = [];
  const items = [...(event.dataTransfer?.items ?? [])];
  for (const [i, file] of [...(event.dataTransfer?.files ?? [])].entries()) {
    if (items[i]?.webkitGetAsEntry?.()?.isDirectory) folders.push(file.name);
    else files.push(file);
  }
  if (files.length > 0) putFiles(files);
  for (const name of folders.slice(0, 1)) {
    chooseFolder(`Where is the folder '${name}'? Choose it to put it`);
  }
});

setupFinding(() => listFiles([]));

follow(onEvent, (link) => {
  showLink($("banner"), link);
  if (link === "open") $("log").replaceChildren();
  if (link === "quit") {
    for (const control of document.querySelectorAll("button, input")) control.disabled = true;
  }
});

setInterval(() => {
  if ([...transfers.values()].some((t) => t.state === "running")) renderTransfers();
}, 1000);
renderStatus();
