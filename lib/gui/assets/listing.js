// The client page's view of the server: the folder being looked at, its
// path bar (the top, then each folder on the way, to go back up), and its
// folders (opened by a click, got whole) before its files. Every name from
// the network is shown as text only. Names are sorted as people expect
// (case aside, numbers in order), a filter box narrows them, and several can
// be selected and got at once.
import { $, el, entryName, entrySize, formatDate } from "./common.js";

const collator = new Intl.Collator(undefined, { numeric: true, sensitivity: "base" });

/** The column the list is sorted by, and its direction (1 up, -1 down). */
const order = { key: "name", dir: 1 };

/**
 * Folders first, then files, each by the column chosen: a name as people
 * expect (`file2` before `File10`), a size or a time; ties by name.
 */
export function sortEntries(entries, { key, dir } = order) {
  const rank = (entry) => (entry.type === "folder" ? 0 : 1);
  const byName = (a, b) =>
    collator.compare(a.shown ?? a.name, b.shown ?? b.name) ||
    (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  const value = (entry) => (key === "size" ? entry.size : entry.mtime) ?? -1;
  return [...entries].sort((a, b) =>
    rank(a) - rank(b) ||
    dir * (key === "name" ? byName(a, b) : value(a) - value(b) || byName(a, b))
  );
}

/** The listing shown, to sort it again. */
let shownListing = null;

/** Sorts by a column: the same one again turns its direction. */
function sortBy(key) {
  order.dir = order.key === key ? -order.dir : 1;
  order.key = key;
  if (shownListing) renderListing(trail, shownListing.files, shownListing.actions);
}

for (const button of document.querySelectorAll("#files thead button[data-sort]")) {
  button.addEventListener("click", () => sortBy(button.dataset.sort));
}

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
  // Another folder: its own selection and filter.
  if (folderOf(steps) !== currentFolder()) $("filter").value = "";
  const kept = folderOf(steps) === currentFolder() ? selected() : [];
  trail = steps;
  shownListing = { files, actions };
  for (const button of document.querySelectorAll("#files thead button[data-sort]")) {
    const sorted = button.dataset.sort === order.key;
    button.closest("th").setAttribute(
      "aria-sort",
      sorted ? (order.dir === 1 ? "ascending" : "descending") : "none",
    );
  }
  renderPath(actions.open);
  // Keep the keyboard's place: the button in focus gets its focus back.
  const focused = document.activeElement?.getAttribute("aria-label");
  $("files").tBodies[0].replaceChildren(
    ...sortEntries(files).map((file) => row(file, actions, kept.includes(pathOf(file.name)))),
  );
  $("files").hidden = files.length === 0;
  $("listing-tools").hidden = files.length === 0;
  $("files-empty").hidden = files.length > 0;
  $("files-empty").textContent = trail.length > 0
    ? "This folder is empty."
    : "The server's folder has no files.";
  applyFilter();
  if (focused?.startsWith("Get ") || focused?.startsWith("Open ")) {
    [...$("files").querySelectorAll("button")].find((b) => b.getAttribute("aria-label") === focused)
      ?.focus();
  }
}

/** The paths of the entries selected and shown. */
export function selected() {
  return [...$("files").tBodies[0].rows].filter((tr) => !tr.hidden)
    .map((tr) => tr.querySelector("input[type=checkbox]"))
    .filter((box) => box?.checked).map((box) => box.dataset.path);
}

/** Shows the entries whose name holds the filter's text (case aside), and the counts. */
export function applyFilter() {
  const wanted = $("filter").value.trim().toLocaleLowerCase();
  const all = [...$("files").tBodies[0].rows];
  let shown = 0;
  for (const tr of all) {
    tr.hidden = wanted !== "" && !tr.dataset.name.toLocaleLowerCase().includes(wanted);
    if (!tr.hidden) shown++;
  }
  $("files-count").textContent = shown === all.length
    ? String(all.length)
    : `${shown} of ${all.length}`;
  $("files-none").hidden = shown > 0 || all.length === 0;
  renderSelection();
}

/** The Get selected button and the select-all box, as the selection is. */
export function renderSelection() {
  const count = selected().length;
  const boxes = [...$("files").tBodies[0].rows].filter((tr) => !tr.hidden)
    .map((tr) => tr.querySelector("input[type=checkbox]")).filter((box) => !box.disabled);
  $("get-selected").disabled = count === 0;
  $("get-selected").textContent = count > 0 ? `Get selected (${count})` : "Get selected";
  $("select-all").checked = boxes.length > 0 && count === boxes.length;
  $("select-all").indeterminate = count > 0 && count < boxes.length;
}

/** Ids for the reasons a name cannot be got, which its row's Get points at. */
let reasons = 0;

function row(file, actions, checked) {
  const folder = file.type === "folder";
  const shown = entryName(file);
  // A name the name rules refuse cannot be got (nor opened): its row says why instead.
  const why = file.problem
    ? el("span", { className: "why", id: `why-${++reasons}` }, file.problem)
    : null;
  const name = folder && !why
    ? el("button", {
      type: "button",
      className: "link",
      attrs: { "aria-label": `Open ${shown}` },
      onclick: () => actions.open(into(file)),
    }, shown)
    : shown;
  const path = pathOf(file.name);
  return el(
    "tr",
    { className: folder ? "folder" : "", attrs: { "data-name": shown } },
    el(
      "td",
      { className: "pick" },
      el("input", {
        type: "checkbox",
        checked: checked && !why,
        disabled: Boolean(why),
        attrs: { "aria-label": `Select ${shown}`, "data-path": path },
        onchange: renderSelection,
      }),
    ),
    el("td", { className: "name" }, el("span", { className: "shown" }, name), why),
    el("td", { className: "num" }, entrySize(file)),
    el("td", { className: "num hide-narrow" }, file.mtime ? formatDate(file.mtime) : ""),
    el(
      "td",
      { className: "num" },
      el("button", {
        type: "button",
        className: "small",
        disabled: Boolean(why),
        attrs: { "aria-label": `Get ${shown}`, ...(why ? { "aria-describedby": why.id } : {}) },
        onclick: () => actions.get(path, file),
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
