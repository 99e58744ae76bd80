// The client page's server fields: the address and port, checked before any
// request (a field that is wrong is marked, focused and says why under it,
// and the status stays as it is), and the TLS tick and fingerprint
// remembered with each address.
import { $, api } from "./common.js";

/** The address and port as typed. */
export function server() {
  return { host: $("host").value.trim(), port: $("port").value.trim() };
}

/** The TLS tick (a fingerprint implies it), the fingerprint and the password. */
export function security() {
  return {
    tls: $("tls").checked || $("fingerprint").value.trim() !== "",
    fingerprint: $("fingerprint").value.trim(),
    password: $("password").value,
  };
}

/** The TLS tick and fingerprint remembered with each address used, by `host:port`. */
let servers = {};

/** Tells the program the fields to remember, the TLS tick and fingerprint with the address. */
export function remember() {
  const { fingerprint } = security();
  const { host, port } = server();
  if (host !== "" && port !== "") {
    servers[`${host}:${port}`] = { tls: $("tls").checked, fingerprint };
  }
  api("settings", {
    host,
    port: port || null,
    folder: $("folder").value,
    tls: $("tls").checked,
    fingerprint,
  });
}

/** Another address: the TLS tick and fingerprint it had when last used. */
function recall() {
  const { host, port } = server();
  const trust = servers[`${host}:${port}`];
  $("tls").checked = trust?.tls ?? false;
  $("fingerprint").value = trust?.fingerprint ?? "";
}

/**
 * Fills the fields for a server chosen on the page (a link, a server on this network): its
 * address, the TLS tick and fingerprint remembered with it, then TLS ticked and the fingerprint
 * pinned where the choice says so (a link's fingerprint; never a discovered one).
 */
export function useServer(host, port, { tls = false, fingerprint = "" } = {}) {
  $("host").value = host;
  $("port").value = port;
  clearField("host");
  clearField("port");
  recall();
  if (tls || fingerprint !== "") $("tls").checked = true;
  if (fingerprint !== "") $("fingerprint").value = fingerprint;
}

/**
 * Whether the address and port can be used; if not, the field is marked,
 * focused and says why under it (the status stays as it is).
 */
export function serverReady() {
  clearField("host");
  clearField("port");
  const { host, port } = server();
  if (host === "") return invalidField("host", "Type the server's address, as its page shows it");
  if (/\s/.test(host)) {
    return invalidField("host", "An address has no spaces: type it as the server's page shows it");
  }
  if (host.length > 255) return invalidField("host", "An address is at most 255 characters long");
  const number = Number(port);
  if (port === "" || !/^\d+$/.test(port) || number < 1 || number > 65535) {
    return invalidField(
      "port",
      port === "" && !$("port").validity.badInput
        ? "Type the server's port, as its page shows it"
        : "A port is a whole number from 1 to 65535",
    );
  }
  return true;
}

function invalidField(id, message) {
  $(id).setAttribute("aria-invalid", "true");
  $(`${id}-error`).textContent = message;
  $(id).focus();
  return false;
}

function clearField(id) {
  $(id).removeAttribute("aria-invalid");
  $(`${id}-error`).textContent = "";
}

/** The settings the program remembered: each address's TLS tick and fingerprint. */
export function recallServers(config) {
  servers = config.servers ?? {};
  $("tls").checked = config.tls === true;
  $("fingerprint").value = config.fingerprint ?? "";
}

// An address pasted as the server's page shows it (`192.168.1.20:3650`) fills both fields.
$("host").addEventListener("change", () => {
  const text = $("host").value.trim();
  const match = /^\[(.+)\]:(\d{1,5})$/.exec(text) ?? /^([^:\s]+)[:\s]+(\d{1,5})$/.exec(text);
  if (match) {
    $("host").value = match[1];
    $("port").value = match[2];
  }
});
// Another address brings back its own TLS tick and fingerprint.
for (const id of ["host", "port"]) {
  $(id).addEventListener("change", recall);
  $(id).addEventListener("input", () => clearField(id));
}
for (const id of ["host", "port", "folder", "tls", "fingerprint"]) {
  $(id).addEventListener("change", remember);
}
