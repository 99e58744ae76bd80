// Finding and trusting a server without typing: the servers "On this network" (remembered ones
// probed, found ones live), a pasted privateshare:// link, and the question "Does the server
// show K7QF-3M2D?" when a server's certificate is not trusted yet.
import { $, api, el } from "./common.js";
import { remember, useServer } from "./address_fields.js";

/** What connects once the fields are filled: the page's own List files. */
let connect = () => {};

/** The questions open now, by fingerprint: each certificate is asked about once at a time. */
const asking = new Map();

/**
 * Asks whether the server shows the code of the certificate it presented. A second list of
 * the same server while the question is open (a second click) gets the same answer, not a
 * second question whose Cancel would contradict the first one's Trust.
 *
 * @param trust `{ code, fingerprint }` of the certificate the server presented
 * @returns true for Trust, false for Cancel (or Escape)
 */
export function askTrust(trust) {
  const open = asking.get(trust.fingerprint);
  if (open) return open;
  const answer = ask(trust).finally(() => asking.delete(trust.fingerprint));
  asking.set(trust.fingerprint, answer);
  return answer;
}

function ask(trust) {
  const trustButton = el("button", { type: "button", className: "primary" }, "Trust");
  const cancelButton = el("button", { type: "button" }, "Cancel");
  const dialog = el(
    "dialog",
    {
      className: "ask trust",
      attrs: { "aria-labelledby": "trust-title", "aria-describedby": "trust-text" },
    },
    el("h2", { id: "trust-title" }, `Does the server show ${trust.code}?`),
    el("p", { className: "trust-code", attrs: { "aria-hidden": "true" } }, trust.code),
    el(
      "p",
      { id: "trust-text" },
      "Compare it with the code on the server's page. Trust it only if both show the same " +
        "code: this computer then remembers the server. Cancel sends it nothing.",
    ),
    el(
      "details",
      {},
      el("summary", {}, "Certificate fingerprint"),
      el("code", { className: "trust-fingerprint" }, trust.fingerprint),
    ),
    el("div", { className: "actions" }, cancelButton, trustButton),
  );
  document.body.append(dialog);
  return new Promise((resolve) => {
    let trusted = false;
    cancelButton.addEventListener("click", () => dialog.close());
    trustButton.addEventListener("click", () => {
      trusted = true;
      dialog.close();
    });
    dialog.addEventListener("close", () => {
      dialog.remove();
      resolve(trusted);
    });
    dialog.showModal();
    // Nothing is trusted by a stray Enter: the first focus is on Cancel.
    cancelButton.focus();
  });
}

/** Reads a pasted link: its error next to the field, or the fields filled and the server listed. */
async function followLink(event) {
  event.preventDefault();
  const field = $("link");
  field.removeAttribute("aria-invalid");
  $("link-error").textContent = "";
  const result = await api("link", { link: field.value });
  if (result.error) {
    field.setAttribute("aria-invalid", "true");
    $("link-error").textContent = result.error;
    field.focus();
    return;
  }
  // A TLS link pins the certificate it names: nothing to compare.
  useServer(result.host, String(result.port), {
    tls: result.fingerprint !== undefined,
    fingerprint: result.fingerprint ?? "",
  });
  remember();
  connect();
}

/** The servers of "On this network", one Connect button each. */
export function renderNearby(servers) {
  $("nearby-empty").hidden = servers.length > 0;
  // The list is redrawn whenever a server appears, goes or answers a probe: a Connect that has
  // the keyboard's focus gets it back in the new list, so that the list never takes it away.
  const list = $("nearby");
  const focused = list.contains(document.activeElement)
    ? document.activeElement.closest("li")?.dataset.instance
    : undefined;
  list.replaceChildren(...servers.map((server) => {
    const address = server.addresses[0] ?? "";
    const where = address.includes(":")
      ? `[${address}]:${server.port}`
      : `${address}:${server.port}`;
    const facts = [
      where,
      server.tls ? "TLS" : "not encrypted",
      server.password ? "password" : "",
      server.discovered
        ? ""
        : server.reachable === null
        ? "looking…"
        : server.reachable
        ? "reachable"
        : "not reachable now",
    ].filter(Boolean);
    return el(
      "li",
      { attrs: { "data-instance": server.instance } },
      el(
        "span",
        { className: "what" },
        server.name,
        server.code ? [" ", el("span", { className: "code" }, server.code)] : "",
        el("span", { className: "where" }, facts.join(" · ")),
      ),
      el("button", {
        type: "button",
        className: "small",
        attrs: { "aria-label": `Connect to ${server.name} at ${where}` },
        // A found server's announced fingerprint is not trust: TLS is ticked, and a server not
        // trusted yet is asked about with the code of the certificate it actually presents.
        onclick: () => {
          useServer(address, String(server.port), { tls: server.tls });
          remember();
          connect();
        },
      }, "Connect"),
      // Its web page, in a tab of its own: a plain link, the browser's own way.
      server.webUrl
        ? el("a", {
          className: "open-web",
          href: server.webUrl,
          target: "_blank",
          rel: "noopener noreferrer",
          attrs: { "aria-label": `Open in browser: ${server.name}` },
        }, "Open in browser")
        : "",
    );
  }));
  if (focused === undefined) return;
  for (const item of list.children) {
    if (item.dataset.instance === focused) item.querySelector("button")?.focus();
  }
}

/**
 * Sets up the link field and the "On this network" section.
 *
 * @param list lists the server the fields name, from its top
 */
export function setupFinding(list) {
  connect = list;
  $("link-form").addEventListener("submit", followLink);
  $("link").addEventListener("input", () => {
    $("link").removeAttribute("aria-invalid");
    $("link-error").textContent = "";
  });
  $("nearby-refresh").addEventListener("click", () => api("nearby"));
}
