// The client page's view of the server: the folder being looked at, its
// path bar (the top, then each folder on the way, to go back up), and its
// folders (opened by a click, got whole) before its files. Every name from
// the network is shown as text only.
import { $, el, entryName, entrySize, formatDate } from "./common.js";

/** The folders from the top to the one shown: each its name as listed and as shown. */
let trail = [];

/** The folder on the server being looked at: "" for the top. */
export function currentFolder() {
  return trail.map((step) => step.name).join("/");
}

/** A name inside the folder being looked at, as the server knows it. */
export function pathOf(name) {
  const folder = currentFolder();
  return folder ? `${folder}/${name}` : name;
}

/** The trail that leads into a folder of the one shown. */
export function into(entry) {
  return [...trail, { name: entry.name, shown: entry.shown }];
}

/** The trail up to its `depth` first folders (0: the top). */
export function upTo(depth) {
  return trail.slice(0, depth);
}

/** The folder a trail leads to. */
export function folderOf(steps) {
  return steps.map((step) => step.name).join("/");
}

/**
 * Shows a listing: `steps` leads to the folder it is of; `actions.open(steps)`
 * lists another folder, `actions.get(path, entry)` gets a file or a folder.
 */
export function renderListing(steps, files, actions) {
  trail = steps;
  renderPath(actions.open);
  // Keep the keyboard's place: the button in focus gets its focus back.
  const focused = document.activeElement?.getAttribute("aria-label");
  $("files").tBodies[0].replaceChildren(...files.map((file) => row(file, actions)));
  $("files").hidden = files.length === 0;
  $("files-empty").hidden = files.length > 0;
  $("files-empty").textContent = trail.length > 0
    ? "This folder is empty."
    : "The server's folder has no files.";
  $("files-count").textContent = String(files.length);
  if (focused?.startsWith("Get ") || focused?.startsWith("Open ")) {
    [...$("files").querySelectorAll("button")].find((b) => b.getAttribute("aria-label") === focused)
      ?.focus();
  }
}

function row(file, actions) {
  const folder = file.type === "folder";
  const shown = entryName(file);
  const name = folder
    ? el("button", {
      type: "button",
      className: "link",
      attrs: { "aria-label": `Open ${shown}` },
      onclick: () => actions.open(into(file)),
    }, shown)
    : shown;
  return el(
    "tr",
    { className: folder ? "folder" : "" },
    el("td", { className: "name" }, name),
    el("td", { className: "num" }, entrySize(file)),
    el("td", { className: "num hide-narrow" }, file.mtime ? formatDate(file.mtime) : ""),
    el(
      "td",
      { className: "num" },
      el("button", {
        type: "button",
        className: "small",
        attrs: { "aria-label": `Get ${shown}` },
        onclick: () => actions.get(pathOf(file.name), file),
      }, "Get"),
    ),
  );
}

/** The path bar: the top, then each folder; the last one is where the list is. */
function renderPath(open) {
  const bar = $("path");
  bar.hidden = trail.length === 0;
  const crumbs = [{ shown: "Top" }, ...trail].map((step, depth) => {
    const here = depth === trail.length;
    return el(
      "li",
      {},
      here ? el("span", { attrs: { "aria-current": "location" } }, step.shown) : el("button", {
        type: "button",
        className: "link",
        onclick: () => open(upTo(depth)),
      }, step.shown),
    );
  });
  bar.firstElementChild.replaceChildren(...crumbs);
}
