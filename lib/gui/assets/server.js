// The server's page: settings, Start and Stop, and the server's events live.
import {
  $,
  addLog,
  api,
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
  ok: ["done", "ok"],
  cancel: ["refused", "warn"],
  closed: ["closed", ""],
  timeout: ["timed out", "bad"],
  error: ["failed", "bad"],
};

let state = "stopped";
let server = null;
let idleDeadline = null;
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
    : "Stopped";
  for (const id of ["root", "browse", "port", "idle", "uploads", "tls", "start"]) {
    $(id).disabled = state !== "stopped";
  }
  $("password").disabled = state !== "stopped" || !$("tls").checked;
  $("plain").hidden = server ? Boolean(server.fingerprint) : $("tls").checked;
  $("stop").disabled = !running;
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
    $("fingerprint").textContent = server.fingerprint ?? "";
    $("fact-root").textContent = server.root;
    $("fact-uploads").textContent = server.readOnly ? "off (read-only)" : "accepted";
  }
  renderIdle();
}

function renderIdle() {
  if (!server) return;
  const fact = $("fact-idle");
  if (server.idleTimeoutMs === 0) fact.textContent = "never";
  else if (idleDeadline === null) fact.textContent = "not while clients are connected";
  else fact.textContent = `in ${formatClock(idleDeadline - Date.now())} without a connection`;
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

function describeRequest(record) {
  return record.op === "-" ? "(no command)" : `${record.op} · ${record.protocol}`;
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
        `${record.peer} · ${describeRequest(record)}`,
        total ? `${formatBytes(record.bytes)} of ${formatBytes(total)}` : formatBytes(record.bytes),
        rate > 0 ? `${formatBytes(rate)}/s` : "",
        record.resumedFrom ? `resumed at ${formatBytes(record.resumedFrom)}` : "",
      ];
      return el(
        "li",
        { className: "transfer" },
        el("span", { className: "badge" }, record.op === "-" ? "…" : record.op),
        el("span", { className: "what" }, record.name ?? "(listing)"),
        progress,
        el("span", { className: "detail" }, parts.filter(Boolean).join(" · ")),
      );
    }),
  );
  $("active-empty").hidden = active.size > 0;
  $("active-count").textContent = active.size > 0 ? String(active.size) : "";
}

function addRequest({ record, time, ms }) {
  const [word, tone] = OUTCOMES[record.outcome] ?? [record.outcome, ""];
  const result = el("span", { className: `badge ${tone}` }, word);
  const detail = record.outcome === "ok" ? "" : record.reason ?? record.message ?? "";
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
      $("idle").value = String(config.idleSeconds);
      $("uploads").checked = config.uploads;
      $("tls").checked = config.tls;
      render();
      break;
    }
    case "state":
      state = event.state;
      server = event.server;
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
  $("form-error").textContent = "";
  $("start").disabled = true;
  const result = await api("start", {
    root: $("root").value,
    port: $("port").value,
    idleSeconds: $("idle").value === "" ? 0 : Number($("idle").value),
    uploads: $("uploads").checked,
    tls: $("tls").checked,
    password: $("tls").checked ? $("password").value : "",
  });
  if (result.error) {
    $("form-error").textContent = result.error;
    $("status").dataset.state = "error";
    $("status").textContent = "Could not start";
    $("start").disabled = false;
  }
});

$("stop").addEventListener("click", () => api("stop"));
$("tls").addEventListener("change", render);
$("copy-fingerprint").addEventListener(
  "click",
  (event) => copy($("fingerprint").textContent, event.currentTarget),
);
$("refresh").addEventListener("click", () => api("files"));
$("browse").addEventListener("click", async () => {
  const folder = await pickFolder($("root").value, "Choose the folder to share");
  if (folder) $("root").value = folder;
  $("root").focus();
});
$("quit").addEventListener("click", () => api("quit"));

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
