// What both pages share: talking to the program, building elements (text
// only: nothing from the network ever becomes markup), formatting, the log,
// and the folder picker. Plain JavaScript that the browser runs as it is.

/** The element with this id. */
export function $(id) {
  return document.getElementById(id);
}

/**
 * Builds an element. Strings and numbers become text nodes, never markup.
 * `props` sets properties (className, type, disabled, ...), `on*` adds
 * listeners, and `attrs` sets attributes.
 */
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (key === "attrs") {
      for (const [name, attr] of Object.entries(value)) node.setAttribute(name, String(attr));
    } else if (key.startsWith("on")) {
      node.addEventListener(key.slice(2), value);
    } else {
      node[key] = value;
    }
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

/**
 * Calls the program's API with a JSON body.
 *
 * @returns the JSON answer; an answer with `error` is returned, not thrown
 */
export async function api(name, body = {}) {
  const response = await fetch(`api/${name}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return await answer(response);
}

/** The JSON of an answer, or `{ error }` with its text. */
export async function answer(response) {
  const type = response.headers.get("content-type") ?? "";
  if (type.startsWith("application/json")) return await response.json();
  const text = (await response.text()).trim();
  return { error: text || `The program answered ${response.status}` };
}

/**
 * Follows the program's events. `onEvent` gets each event; `onLink` gets
 * "open", "lost" (the program may be gone; the browser retries) or "quit".
 */
export function follow(onEvent, onLink) {
  const source = new EventSource("api/events");
  source.onopen = () => onLink("open");
  source.onerror = () => onLink("lost");
  source.onmessage = (message) => {
    const event = JSON.parse(message.data);
    if (event.type === "quit") {
      source.close();
      onLink("quit");
      return;
    }
    onEvent(event);
  };
  return source;
}

/** A size: `512 B`, `1.50 KiB`, `3.20 GiB`. */
export function formatBytes(bytes) {
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${units[unit]}`;
}

/** A listed name as shown: a folder's with a trailing `/`. */
export function entryName(entry) {
  return entry.type === "folder" ? `${entry.shown ?? entry.name}/` : entry.shown ?? entry.name;
}

/** A listed size as shown: a folder's with its file count, `3 files · 1.50 KiB`. */
export function entrySize(entry) {
  if (entry.size === undefined) return "";
  if (entry.type !== "folder") return formatBytes(entry.size);
  return `${entry.files} ${entry.files === 1 ? "file" : "files"} · ${formatBytes(entry.size)}`;
}

/** A duration: `0.4 s`, `12 s`, `3 min 05 s`, `2 h 07 min`. */
export function formatDuration(ms) {
  const s = ms / 1000;
  if (s < 10) return `${s.toFixed(1)} s`;
  if (s < 60) return `${Math.round(s)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.round(s % 60)).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/** A countdown: `4:59`. */
export function formatClock(ms) {
  const s = Math.max(0, Math.ceil(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, "0");
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

/** A time of day: `14:03:27`. */
export function formatTime(ms) {
  return new Date(ms).toLocaleTimeString([], { hour12: false });
}

/** A date and time: `2024-05-01 14:03`. */
export function formatDate(ms) {
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}`;
}

/** Adds a line to a log list, keeping it scrolled to the end when it was. */
export function addLog(list, entry) {
  const atEnd = list.scrollTop + list.clientHeight >= list.scrollHeight - 4;
  list.append(
    el(
      "li",
      { className: entry.level === "error" ? "bad" : "" },
      el("time", { dateTime: new Date(entry.time).toISOString() }, formatTime(entry.time)),
      entry.line,
    ),
  );
  while (list.children.length > 500) list.firstElementChild.remove();
  if (atEnd) list.scrollTop = list.scrollHeight;
}

/** Shows the program's link state in the banner. */
export function showLink(banner, link) {
  if (link === "open") {
    banner.hidden = true;
  } else if (link === "lost") {
    banner.textContent = "Lost contact with privateshare: is it still running? Retrying…";
    banner.hidden = false;
  } else {
    banner.textContent = "privateshare has quit: you can close this page";
    banner.hidden = false;
  }
}

let picker;

/**
 * Lets the user choose a local folder, listed by the program.
 *
 * @returns the chosen folder, or null when cancelled
 */
export function pickFolder(start, title) {
  picker ??= buildPicker();
  return picker.open(start, title);
}

function buildPicker() {
  const heading = el("h2", { id: "folder-title" }, "Choose a folder");
  const path = el("input", { id: "folder-path", type: "text", spellcheck: false });
  const go = el("button", { type: "submit" }, "Go");
  const up = el("button", { type: "button", id: "folder-up" }, "Up");
  const list = el("ul", { className: "folders", attrs: { "aria-label": "Folders" } });
  const problem = el("p", { className: "error", attrs: { role: "alert" } });
  const choose = el(
    "button",
    { type: "button", className: "primary", id: "folder-choose" },
    "Choose this folder",
  );
  const cancel = el("button", { type: "button" }, "Cancel");
  const form = el(
    "form",
    {},
    el("label", { htmlFor: "folder-path", className: "label" }, "Folder"),
    el("div", { className: "row" }, path, go, up),
  );
  const dialog = el(
    "dialog",
    { attrs: { "aria-labelledby": "folder-title" } },
    heading,
    form,
    list,
    problem,
    el("div", { className: "actions" }, choose, cancel),
  );
  document.body.append(dialog);
  let current = null;
  let parent = null;
  let settle = () => {};

  // Only the latest request shows: a slow first listing must not replace a folder typed since.
  let asked = 0;
  async function show(folder) {
    const mine = ++asked;
    const listing = await api("folders", { path: folder });
    if (mine !== asked) return;
    current = listing.path;
    parent = listing.parent;
    path.value = listing.path ?? folder;
    up.disabled = parent === null;
    problem.textContent = listing.error ?? "";
    list.replaceChildren(
      ...(listing.folders ?? []).map((name) =>
        el(
          "li",
          {},
          el("button", {
            type: "button",
            onclick: () =>
              show(
                `${listing.path}${
                  listing.path.endsWith(sep(listing.path)) ? "" : sep(listing.path)
                }${name}`,
              ),
          }, name),
        )
      ),
    );
    if (!listing.error && (listing.folders ?? []).length === 0) {
      list.append(el("li", { className: "empty" }, "No folders inside"));
    }
    choose.disabled = Boolean(listing.error);
  }

  // A folder typed while a listing is on its way wins: that listing no longer shows (it would put
  // its own path back into the field, and Go would then list it instead of what was typed).
  path.addEventListener("input", () => asked++);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    show(path.value);
  });
  up.addEventListener("click", () => parent !== null && show(parent));
  choose.addEventListener("click", () => {
    dialog.close();
    settle(current);
  });
  cancel.addEventListener("click", () => dialog.close());
  dialog.addEventListener("close", () => settle(null));

  return {
    open(start, title) {
      heading.textContent = title ?? "Choose a folder";
      return new Promise((resolve) => {
        settle = (value) => {
          settle = () => {};
          resolve(value);
        };
        dialog.showModal();
        show(start ?? "").then(() => path.focus());
      });
    },
  };
}

function sep(path) {
  return path.includes("\\") && !path.includes("/") ? "\\" : "/";
}

/**
 * Asks a question in the page (a modal dialog, not the browser's own box):
 * the safe choice has the focus, and Escape picks it.
 *
 * @param title the question
 * @param text what follows from each choice
 * @param keep the safe choice's words, such as "Keep running"
 * @param act the other choice's words, such as "Stop"
 * @returns true when the user chose `act`
 */
export function ask(title, text, keep, act) {
  const heading = el("h2", { id: "ask-title" }, title);
  const keepButton = el("button", { type: "button", className: "primary", id: "ask-keep" }, keep);
  const actButton = el("button", { type: "button", id: "ask-act" }, act);
  const dialog = el(
    "dialog",
    { className: "ask", attrs: { "aria-labelledby": "ask-title", "aria-describedby": "ask-text" } },
    heading,
    el("p", { id: "ask-text" }, text),
    el("div", { className: "actions" }, keepButton, actButton),
  );
  document.body.append(dialog);
  return new Promise((resolve) => {
    let chosen = false;
    keepButton.addEventListener("click", () => dialog.close());
    actButton.addEventListener("click", () => {
      chosen = true;
      dialog.close();
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(chosen);
    });
    dialog.showModal();
    keepButton.focus();
  });
}
