// The server's page: settings, Start and Stop, and the server's events live.
import {
  $,
  addLog,
  api,
  ask,
  el,
  entryName,
  entrySize,
  follow,
  formatBytes,
  formatClock,
  formatDate,
  formatDuration,
  formatTime,
  pickFolder,
  showLink,
} from "./common.js";

const MAX_ROWS = 200;
const OUTCOMES = {
  cancel: ["refused", "warn"],
  timeout: ["timed out", "bad"],
  error: ["failed", "bad"],
};

let state = "stopped";
let server = null;
let idleDeadline = null;
/** After the server stopped by itself: the idle time it waited, and whether it had a password. */
let idleStop = null;
let seenRequests = 0;
const active = new Map();

function render() {
  const running = state === "running";
  const pill = $("status");
  pill.dataset.state = running ? "running" : state === "stopping" ? "stopping" : "idle";
  pill.textContent = running
    ? active.size > 0 ? `Running · ${active.size} active` : "Running"
    : state === "stopping"
    ? "Stopping…"
    : idleStop
    ? `Stopped after ${idleWords(idleStop.seconds)} without a connection`
    : "Stopped";
  $("start-again").hidden = state !== "stopped" || !idleStop;
  for (
    const id of [
      "root",
      "browse",
      "port",
      "idle",
      "uploads",
      "tls",
      "name",
      "announce",
      "web",
      "start",
    ]
  ) {
    $(id).disabled = state !== "stopped";
  }
  $("password").disabled = state !== "stopped" || !$("tls").checked;
  // A running server's settings are facts, not boxes that look editable.
  $("settings-fields").hidden = state !== "stopped";
  $("running-facts").hidden = !server;
  $("settings-title").textContent = server ? "Sharing" : "Share a folder";
  $("plain").hidden = server ? Boolean(server.fingerprint) : $("tls").checked;
  $("stop").disabled = !running;
  // Only the button that applies: Start while stopped, Stop while it runs.
  $("start").hidden = state !== "stopped";
  $("stop").hidden = state === "stopped";
  $("refresh").disabled = !running;
  $("share").hidden = !server;
  $("share-idle").hidden = Boolean(server);
  if (server) {
    const port = server.port;
    const addresses = server.addresses.length > 0 ? server.addresses : ["this computer's address"];
    $("addresses").replaceChildren(
      ...addresses.map((address) => {
        const text = address.includes(":") ? `[${address}]:${port}` : `${address}:${port}`;
        const known = server.addresses.length > 0;
        return el(
          "li",
          {},
          el("code", {}, known ? text : `port ${port}`),
          known
            ? el("button", {
              type: "button",
              className: "small",
              attrs: { "aria-label": `Copy ${text}` },
              onclick: (event) => copy(text, event.currentTarget),
            }, "Copy")
            : el("span", { className: "hint" }, "on this computer's network address"),
        );
      }),
    );
    $("tls-share").hidden = !server.fingerprint;
    $("code-share").hidden = !server.code;
    $("short-code").textContent = server.code ?? "";
    const links = server.links ?? [];
    $("links-share").hidden = links.length === 0;
    $("links").replaceChildren(
      ...links.map((link) =>
        el(
          "li",
          {},
          el("code", { className: "link" }, link),
          el("button", {
            type: "button",
            className: "small",
            attrs: { "aria-label": `Copy the link ${link}` },
            onclick: (event) => copy(link, event.currentTarget),
          }, "Copy"),
        )
      ),
    );
    $("fingerprint").replaceChildren(...grouped(server.fingerprint ?? ""));
    $("fact-root").textContent = server.root;
    $("fact-port").textContent = String(server.port);
    $("fact-uploads").textContent = server.readOnly ? "off (read-only)" : "accepted";
    $("fact-tls").textContent = server.fingerprint ? "TLS" : "none";
    $("fact-password").textContent = server.password ? "required" : "none";
    $("fact-name").textContent = server.name
      ? `${server.name}${server.announce ? ", announced on this network" : ", not announced"}`
      : server.announce
      ? "this computer's name, announced on this network"
      : "none, not announced";
    $("fact-web").textContent = server.web ? `a web page on port ${server.web.port}` : "off";
    $("fact-idle").textContent = server.idleTimeoutMs === 0
      ? "never: runs until stopped"
      : `after ${idleWords(server.idleTimeoutMs / 1000)} without a connection`;
  }
  renderWeb();
  renderIdle();
}

/**
 * "Phones and browsers": the QR code of the page's address at the address chosen (the first
 * unless another is picked), the address with Copy, and what the browser will ask.
 */
function renderWeb() {
  const web = server?.web ?? null;
  $("web-idle").hidden = Boolean(web);
  $("web-idle").textContent = server
    ? "Off: this server serves no web page. To serve one, stop the server, switch on " +
      '"Phones and browsers" and start it again.'
    : "Start the server to show its QR code.";
  $("web-share").hidden = !web;
  if (!web) return;
  const select = $("web-address");
  const hosts = web.addresses.map(({ host }) => host);
  if ([...select.options].map((option) => option.value).join(" ") !== hosts.join(" ")) {
    select.replaceChildren(...hosts.map((host) => el("option", { value: host }, host)));
  }
  $("web-choose").hidden = hosts.length < 2;
  const chosen = web.addresses.find(({ host }) => host === select.value) ?? web.addresses[0];
  $("web-none").hidden = Boolean(chosen);
  $("web-qr").hidden = !chosen;
  $("web-open").hidden = !chosen;
  if (chosen) {
    // Set only when it changes: the page is drawn again at every request.
    if ($("web-qr").getAttribute("src") !== chosen.qr) $("web-qr").src = chosen.qr;
    $("web-qr").alt = `QR code of ${chosen.url}`;
    $("web-url").textContent = chosen.url;
  }
  $("web-tls").hidden = !web.secure;
  $("web-code").textContent = server.code ?? "";
  $("web-password").hidden = !server.password;
}

/** The countdown to an idle stop, next to the status. */
function renderIdle() {
  const counting = state === "running" && active.size === 0 && idleDeadline !== null;
  $("countdown").textContent = counting
    ? `Stops in ${formatClock(idleDeadline - Date.now())} if nobody connects`
    : "";
}

/** An idle time in words: `5 minutes`, `1 hour`, `90 seconds`. */
function idleWords(seconds) {
  const [count, unit] = seconds % 3600 === 0
    ? [seconds / 3600, "hour"]
    : seconds % 60 === 0
    ? [seconds / 60, "minute"]
    : [seconds, "second"];
  return `${count} ${unit}${count === 1 ? "" : "s"}`;
}

/** The fingerprint as text that may wrap after every fourth byte (copying gives it whole). */
function grouped(fingerprint) {
  const bytes = fingerprint.split(":");
  const parts = [];
  for (let i = 0; i < bytes.length; i += 4) {
    if (i > 0) parts.push(el("wbr"));
    parts.push(bytes.slice(i, i + 4).join(":") + (i + 4 < bytes.length ? ":" : ""));
  }
  return parts;
}

/** Points at a field the server cannot start with: marked, described, focused. */
function invalidField(id, message) {
  const field = $(id);
  field.setAttribute("aria-invalid", "true");
  $(`${id}-error`).textContent = message;
  field.focus();
}

function clearErrors() {
  $("form-error").textContent = "";
  for (const id of ["root", "idle", "port", "name", "password"]) {
    $(id).removeAttribute("aria-invalid");
    $(`${id}-error`).textContent = "";
  }
}

async function copy(text, button) {
  try {
    await navigator.clipboard.writeText(text);
    button.textContent = "Copied";
  } catch {
    button.textContent = "Select and copy";
  }
  setTimeout(() => button.textContent = "Copy", 1500);
}

/** A request in words: "list", "put a folder", "connected, sent nothing". */
function describeRequest(record, ended = true) {
  const words = record.op === "-"
    ? ended ? "connected, sent nothing" : "connected"
    : record.op === "put-folder"
    ? "put a folder"
    : record.op === "get" && record.files !== undefined
    ? "get a folder"
    : record.op;
  return record.protocol === "classic" ? `${words} (classic client)` : words;
}

/** A request's result in words, its tone, and what to add after it. */
function describeResult(record) {
  if (record.outcome === "ok") return ["done", "ok", ""];
  if (record.outcome === "closed") {
    // The client went away: a cancel, or a connection that never asked.
    return record.op === "-" ? ["closed", "", ""] : ["cancelled", "", record.message ?? ""];
  }
  const [word, tone] = OUTCOMES[record.outcome] ?? [record.outcome, ""];
  return [word, tone, record.message ?? record.reason ?? ""];
}

function renderActive() {
  $("active").replaceChildren(
    ...[...active.values()].map(({ record, time }) => {
      const total = record.size ?? 0;
      const progress = el("progress", { max: total || 1, value: total ? record.bytes : 0 });
      if (!total) progress.removeAttribute("value");
      const seconds = (Date.now() - time) / 1000;
      const rate = seconds > 0 ? record.bytes / seconds : 0;
      const parts = [
        `${record.peer} · ${describeRequest(record, false)}`,
        total ? `${formatBytes(record.bytes)} of ${formatBytes(total)}` : formatBytes(record.bytes),
        rate > 0 ? `${formatBytes(rate)}/s` : "",
        record.resumedFrom ? `resumed at ${formatBytes(record.resumedFrom)}` : "",
      ];
      return el(
        "li",
        { className: "transfer" },
        el("span", { className: "badge" }, record.op === "-" ? "…" : record.op.split("-")[0]),
        el(
          "span",
          { className: "what" },
          record.name ?? (record.op === "list" ? "the folder's list" : "waiting for a request"),
        ),
        progress,
        el("span", { className: "detail" }, parts.filter(Boolean).join(" · ")),
      );
    }),
  );
  $("active-empty").hidden = active.size > 0;
  $("active-count").textContent = active.size > 0 ? String(active.size) : "";
}

function addRequest({ record, time, ms }) {
  const [word, tone, detail] = describeResult(record);
  const result = el("span", { className: `badge ${tone}` }, word);
  const row = el(
    "tr",
    { attrs: { "data-id": record.id } },
    el("td", { className: "num hide-narrow" }, formatTime(time)),
    el("td", { className: "name" }, record.peer),
    el("td", {}, describeRequest(record)),
    el("td", { className: "name" }, record.name ?? ""),
    el(
      "td",
      { className: "num hide-narrow" },
      record.op === "list" ? "" : formatBytes(record.bytes),
    ),
    el("td", { className: "num hide-narrow" }, formatDuration(ms)),
    el("td", { title: record.message ?? "" }, result, detail ? ` ${detail}` : ""),
  );
  const body = $("requests").tBodies[0];
  body.prepend(row);
  while (body.rows.length > MAX_ROWS) body.lastElementChild.remove();
  seenRequests++;
  $("requests").hidden = false;
  $("requests-empty").hidden = true;
  $("requests-count").textContent = String(seenRequests);
}

function renderFiles({ files, more }) {
  const body = $("files").tBodies[0];
  body.replaceChildren(
    ...files.map((file) =>
      el(
        "tr",
        { className: file.type === "folder" ? "folder" : "" },
        el("td", { className: "name" }, entryName(file)),
        el("td", { className: "num" }, entrySize(file)),
        el("td", { className: "num hide-narrow" }, formatDate(file.mtime)),
      )
    ),
  );
  $("files").hidden = files.length === 0;
  $("files-empty").hidden = files.length > 0;
  $("files-empty").textContent = "The folder has no files or folders yet.";
  $("files-count").textContent = `${files.length}${more ? ` (+${more} not shown)` : ""}`;
}

function onEvent(event) {
  switch (event.type) {
    case "config": {
      const { config } = event;
      $("root").value = config.root;
      $("port").value = String(config.port);
      const idle = String(config.idleSeconds);
      if (![...$("idle").options].some((option) => option.value === idle)) {
        $("idle").add(el("option", { value: idle }, idleWords(config.idleSeconds)), 0);
      }
      $("idle").value = idle;
      $("uploads").checked = config.uploads;
      $("tls").checked = config.tls;
      $("name").value = config.name;
      $("announce").checked = config.announce;
      $("web").checked = config.web;
      render();
      break;
    }
    case "state":
      state = event.state;
      server = event.server;
      idleStop = event.idleStop ?? null;
      if (state === "stopped") {
        active.clear();
        renderActive();
      }
      render();
      break;
    case "log":
      addLog($("log"), event);
      break;
    case "request":
      if (event.phase === "end") {
        active.delete(event.record.id);
        addRequest(event);
      } else {
        active.set(event.record.id, event);
      }
      renderActive();
      render();
      break;
    case "idle":
      idleDeadline = event.deadline;
      renderIdle();
      break;
    case "files":
      renderFiles(event);
      break;
  }
}

$("settings").addEventListener("submit", async (event) => {
  event.preventDefault();
  clearErrors();
  if ($("root").value.trim() === "") return invalidField("root", "Choose the folder to share");
  if (idleStop?.password && $("tls").checked && $("password").value === "") {
    return invalidField("password", "Type the password again: it is never kept");
  }
  $("start").disabled = true;
  const result = await api("start", {
    root: $("root").value,
    port: $("port").value,
    idleSeconds: Number($("idle").value),
    uploads: $("uploads").checked,
    tls: $("tls").checked,
    name: $("name").value,
    announce: $("announce").checked,
    web: $("web").checked,
    password: $("tls").checked ? $("password").value : "",
  });
  if (result.error) {
    if (result.field && $(`${result.field}-error`)) invalidField(result.field, result.error);
    else $("form-error").textContent = result.error;
    $("start").disabled = false;
  }
});
for (const id of ["root", "idle", "port", "name", "password"]) {
  $(id).addEventListener("input", () => {
    $(id).removeAttribute("aria-invalid");
    $(`${id}-error`).textContent = "";
  });
}
$("start-again").addEventListener("click", () => $("settings").requestSubmit());

$("stop").addEventListener("click", async () => {
  const go = await goAhead("Stop");
  if (go) api("stop", { now: go === "asked" });
});
$("tls").addEventListener("change", render);
$("copy-fingerprint").addEventListener(
  "click",
  (event) => copy($("fingerprint").textContent, event.currentTarget),
);
$("refresh").addEventListener("click", () => api("files"));
$("web-address").addEventListener("change", renderWeb);
$("copy-web-url").addEventListener(
  "click",
  (event) => copy($("web-url").textContent, event.currentTarget),
);
$("browse").addEventListener("click", async () => {
  const folder = await pickFolder($("root").value, "Choose the folder to share");
  if (folder) $("root").value = folder;
  $("root").focus();
});
$("quit").addEventListener("click", async () => {
  const go = await goAhead("Quit");
  if (go === "asked") await api("stop", { now: true });
  if (go) api("quit");
});

/**
 * With requests in flight, asks before a Stop or a Quit cuts them off.
 *
 * @returns "asked" when the user chose to cut them off, true with none in
 *   flight, false to keep running
 */
async function goAhead(action) {
  const running = [...active.values()].filter(({ record }) => record.op !== "-").length;
  if (state !== "running" || running === 0) return true;
  const what = running === 1 ? "A request is" : `${running} requests are`;
  const cut = await ask(
    action === "Quit" ? "Quit while clients are served?" : "Stop while clients are served?",
    `${what} still running: ${action === "Quit" ? "quitting" : "stopping"} cuts ${
      running === 1 ? "it" : "them"
    } off. A client that puts again resumes where it stopped.`,
    "Keep running",
    action,
  );
  return cut ? "asked" : false;
}

follow(onEvent, (link) => {
  showLink($("banner"), link);
  if (link === "open") {
    // A reconnect sends everything again.
    $("log").replaceChildren();
    $("requests").tBodies[0].replaceChildren();
    seenRequests = 0;
    active.clear();
  }
  if (link === "quit") {
    state = "stopped";
    server = null;
    render();
    for (const button of document.querySelectorAll("button")) button.disabled = true;
  }
});

setInterval(() => {
  renderIdle();
  if (active.size > 0) renderActive();
}, 1000);
render();
