// The client page's transfer rows: progress with rate and time left, the
// outcome in words (a cancel or a skip neutral, not an error), and the buttons
// of a failure's fixes (Replace, Keep both, Skip).
import { el, formatBytes, formatDuration } from "./common.js";

/** The states of a transfer still to end. */
export const LIVE = ["waiting", "queued", "running"];

/**
 * A transfer's row: `on.cancel(id)` cancels it, `on.act(action)` runs one of
 * its fixes, `on.show(id)` opens the folder a finished get saved into.
 */
export function transferRow(t, on) {
  return el(
    "li",
    { className: "transfer", attrs: { "data-id": t.id } },
    el("span", { className: "badge" }, t.op),
    el("span", { className: "what" }, t.name),
    el("progress", {}),
    el("span", { className: "detail" }),
    el("button", {
      type: "button",
      className: "small",
      attrs: { "aria-label": `Cancel ${t.op} ${t.name}` },
      onclick: () => on.cancel(t.id),
    }, "Cancel"),
    el("span", { className: "actions", act: on.act }),
    el("button", {
      type: "button",
      className: "small",
      hidden: true,
      attrs: { "aria-label": `Show in folder: ${t.name}` },
      onclick: () => on.show(t.id),
    }, "Show in folder"),
  );
}

const ACTIONS = { replace: "Replace", "keep-both": "Keep both", skip: "Skip" };

/** The buttons of a failure's fixes. */
function renderActions(box, t) {
  const wanted = t.state === "failed" ? t.actions ?? [] : [];
  if (box.dataset.shown === wanted.join()) return;
  box.dataset.shown = wanted.join();
  box.replaceChildren(
    ...wanted.map((action) =>
      el("button", {
        type: "button",
        className: action === "skip" ? "small" : "small primary",
        attrs: { "aria-label": `${ACTIONS[action]}: ${t.name}` },
        onclick: () => box.act(action),
      }, ACTIONS[action])
    ),
  );
}

/** Shows a transfer's state in its row. */
export function updateRow(row, t) {
  const [badge, what, progress, text, button, actions, show] = row.children;
  row.dataset.state = t.state;
  badge.className = `badge ${badgeTone(t.state)}`;
  what.textContent = t.name;
  const total = t.total ?? 0;
  progress.max = total || 1;
  if (t.state === "running" && !total) progress.removeAttribute("value");
  else progress.value = total ? t.done : t.state === "done" ? 1 : 0;
  const live = LIVE.includes(t.state);
  // A transfer refused before any byte moved has no progress to show.
  progress.hidden = !live && t.state !== "done" && t.done === 0;
  text.className = `detail ${t.state === "failed" ? "bad" : ""}`;
  text.textContent = detail(t);
  button.hidden = !live;
  renderActions(actions, t);
  // Only when the program may run the system's opener: otherwise no button at all.
  show.hidden = !(t.op === "get" && t.state === "done" && t.result?.show === true);
}

function badgeTone(state) {
  // A cancel or a skip is the user's choice, not an error: neutral.
  return state === "done" ? "ok" : state === "failed" ? "bad" : "";
}

function detail(t) {
  switch (t.state) {
    case "waiting":
    case "queued":
      return `Waiting · ${formatBytes(t.total ?? 0)}`;
    case "running": {
      const seconds = (Date.now() - t.started) / 1000;
      const moved = t.done - t.resumedFrom;
      const rate = seconds > 0.2 ? moved / seconds : 0;
      const parts = [
        t.total ? `${formatBytes(t.done)} of ${formatBytes(t.total)}` : formatBytes(t.done),
      ];
      if (t.filesTotal !== undefined) parts.unshift(`${t.files} of ${t.filesTotal} files`);
      if (t.total && t.done >= t.total) parts.push("verifying");
      else if (rate > 0) {
        parts.push(`${formatBytes(rate)}/s`);
        if (t.total) parts.push(`${formatDuration(((t.total - t.done) / rate) * 1000)} left`);
      }
      if (t.resumedFrom > 0) parts.push(`resumed at ${formatBytes(t.resumedFrom)}`);
      return parts.join(" · ");
    }
    case "done": {
      const r = t.result;
      const resumed = r.resumedFrom > 0 ? ` · resumed at ${formatBytes(r.resumedFrom)}` : "";
      const where = t.op === "get" ? ` · saved as ${r.path}` : "";
      const rate = r.ms > 0 ? formatBytes(r.moved / (r.ms / 1000)) + "/s" : "";
      const files = r.type === "folder" ? ` · ${r.files} ${r.files === 1 ? "file" : "files"}` : "";
      const took = `${formatBytes(r.size)} in ${formatDuration(r.ms)}`;
      return `Done${files} · ${took} · ${rate}${resumed}${where}`;
    }
    default:
      return t.message ?? t.state;
  }
}
