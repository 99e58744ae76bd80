/**
 * The server's GUI: a page in the user's browser that starts and stops a
 * server of the library (`startServer`), and follows its events live: each
 * request with its progress, the idle countdown, the served folder's files
 * and the same log lines as the command line.
 *
 * @module
 */

import {
  formatLink,
  ListenError,
  Logger,
  printable,
  type RequestRecord,
  RootError,
  SecurityError,
  type Server,
  SERVER_DEFAULTS,
  type ServerEvent,
  shortCode,
} from "../mod.ts";
import html from "./assets/server.html" with { type: "text" };
import script from "./assets/server.js" with { type: "text" };
import { type GuiOptions, runGui } from "./run.ts";
import { ownCertificate, START_FULLY } from "./tls.ts";
import { granted, listFolders, networkAddresses, Settings } from "./system.ts";
import { EventHub, json, readJson } from "./web.ts";
import { readFiles, shown } from "./server_view.ts";
import { startAnnouncing } from "./announce_page.ts";
import {
  checkName,
  fieldOf,
  invalid,
  type ServerConfig,
  serverConfig,
  validPort,
} from "./server_config.ts";
import { startServerWithWeb, webPanel } from "./web_page_panel.ts";

/** Finished requests and log lines a page that opens is shown. */
const KEEP = 200;

/**
 * Runs the server's GUI until Quit on the page, Ctrl-C or SIGTERM; a server
 * still running then stops as on SIGTERM (transfers in flight may finish).
 *
 * @param options whether to open the browser, and the program's name for messages
 * @returns the exit code
 */
export async function runServerGui(options: GuiOptions): Promise<number> {
  const hub = new EventHub();
  const control = new ServerControl(hub);
  return await runGui(options, "server", {
    html,
    script,
    hub,
    snapshot: () => control.snapshot(),
    routes: {
      start: { method: "POST", handle: async (request) => control.start(await readJson(request)) },
      stop: {
        method: "POST",
        handle: async (request) => {
          // `now`: the page asked its user first, so requests in flight are cut at once.
          control.stop(false, (await readJson(request)).now === true);
          return json({ ok: true });
        },
      },
      files: {
        method: "POST",
        handle: () => {
          control.refreshFiles();
          return json({ ok: true });
        },
      },
      folders: {
        method: "POST",
        handle: async (request) => json(await listFolders(stringField(await readJson(request)))),
      },
    },
    stop: () => control.stop(true),
  });
}

function stringField(body: Record<string, unknown> | undefined, key = "path"): string | undefined {
  const value = body?.[key];
  return typeof value === "string" ? value : undefined;
}

/** The one server the page runs, its state, and what a page that opens is shown. */
class ServerControl {
  readonly #hub: EventHub;
  readonly #settings = new Settings("server-gui.json");
  #config: ServerConfig;
  #server: Server | undefined;
  /** The announcement of the running server, ended when it stops. */
  #announcement: AsyncDisposable | undefined;
  #state: "stopped" | "running" | "stopping" = "stopped";
  #running: Record<string, unknown> | undefined;
  #active = new Map<
    number,
    { record: RequestRecord; time: number; live: Readonly<RequestRecord> }
  >();
  #progressTimer: ReturnType<typeof setInterval> | undefined;
  #recent: { record: RequestRecord; time: number; ms: number }[] = [];
  #log: { time: number; line: string; level: string }[] = [];
  #idleDeadline: number | null = null;
  /** Why the last server stopped by itself: the idle time it waited, and whether it had a password. */
  #idleStop: { seconds: number; password: boolean } | null = null;
  #files: { type: "files"; files: unknown[]; more: number } | undefined;
  #filesTimer: ReturnType<typeof setTimeout> | undefined;
  // The command line's own lines, less their time (the page shows its own).
  #logger = new Logger("text", (line) => this.#addLog(line.replace(/^\S+ /, ""), "info"));

  constructor(hub: EventHub) {
    this.#hub = hub;
    this.#config = serverConfig(this.#settings.load());
  }

  /** The events that bring a page that opens up to date. */
  snapshot(): unknown[] {
    return [
      { type: "config", config: this.#config },
      this.#stateEvent(),
      ...this.#log.map((l) => ({ type: "log", ...l })),
      ...this.#recent.map((r) => ({ type: "request", phase: "end", ...r })),
      ...[...this.#active.values()].map(({ record, time }) => ({
        type: "request",
        phase: "progress",
        record,
        time,
      })),
      { type: "idle", deadline: this.#idleDeadline },
      ...(this.#files ? [this.#files] : []),
    ];
  }

  /**
   * Starts the server with the page's settings.
   *
   * @param body the page's fields
   * @returns the answer: ok, or the one-line reason it could not start
   */
  async start(body: Record<string, unknown> | undefined): Promise<Response> {
    if (this.#state !== "stopped") return json({ error: "The server is already running" }, 409);
    const port = validPort(body?.port);
    if (port === undefined) {
      return invalid("port", `Invalid port '${body?.port}': give a whole number from 0 to 65535`);
    }
    const root = typeof body?.root === "string" ? body.root.trim() : "";
    if (root === "") return invalid("root", "Choose the folder to share");
    const idleSeconds = Number(body?.idleSeconds);
    if (!Number.isFinite(idleSeconds) || idleSeconds < 0) {
      return invalid("idle", `Invalid idle time '${body?.idleSeconds}': choose one in the list`);
    }
    const uploads = body?.uploads === true;
    const tls = body?.tls === true;
    const password = typeof body?.password === "string" && body.password !== ""
      ? body.password
      : undefined;
    if (password !== undefined && !tls) {
      return invalid("password", "A password needs TLS (it would cross the network in the clear)");
    }
    const named = checkName(body?.name);
    if ("error" in named) return invalid("name", named.error);
    const announce = body?.announce === true;
    const web = body?.web === true;
    this.#config = { port, root, uploads, idleSeconds, tls, name: named.name, announce, web };
    const saveError = await this.#settings.save({ ...this.#config });
    if (saveError) this.#addLog(saveError, "error");
    if (!granted({ name: "read", path: root })) {
      return this.#fail(`privateshare may not read '${root}' as it was started: ${START_FULLY}`);
    }
    if (!granted({ name: "net" })) {
      return this.#fail(
        `privateshare may not listen on the network as it was started: ${START_FULLY}`,
      );
    }
    const writable = granted({ name: "write", path: root });
    const idleTimeoutMs = Math.round(idleSeconds * 1000);
    let files;
    if (tls) {
      files = await ownCertificate();
      if (typeof files === "string") return this.#fail(files);
    }
    let taken: number | undefined;
    try {
      ({ server: this.#server, taken } = startServerWithWeb({
        root,
        port,
        readOnly: !uploads || !writable,
        idleTimeoutMs,
        ...(files ? { tls: files } : {}),
        ...(password !== undefined ? { password } : {}),
        onEvent: (event) => this.#onEvent(event, idleTimeoutMs),
      }, web));
    } catch (error) {
      if (
        error instanceof RootError || error instanceof ListenError ||
        error instanceof SecurityError
      ) {
        return this.#fail(error.message, fieldOf(error));
      }
      throw error;
    }
    this.#idleStop = null;
    const started = this.#server;
    if (this.#running) {
      this.#running.web = webPanel(started, this.#running.addresses as string[]);
      this.#hub.send(this.#stateEvent());
    }
    if (taken !== undefined && started.web) {
      this.#addLog(
        `Port ${taken} is taken: the page for phones and browsers is on port ${started.web.addr.port}`,
        "info",
      );
    }
    this.#announcement = startAnnouncing(started, {
      name: named.name,
      announce,
      ...(typeof this.#running?.fingerprint === "string"
        ? { fingerprint: this.#running.fingerprint }
        : {}),
      password: password !== undefined,
      log: (message, level) => this.#addLog(message, level),
      // The page states the name clients see (this computer's when the field is empty), and
      // "not announced" when announcing failed.
      onAnnounced: (announced) => {
        if (this.#server !== started || this.#running === undefined) return;
        this.#running.name = announced ?? named.name;
        this.#running.announce = announced !== undefined;
        this.#hub.send(this.#stateEvent());
      },
    });
    if (uploads && !writable) {
      this.#addLog(
        `Uploads are off: privateshare may not write there as it was started: ${START_FULLY}`,
        "error",
      );
    }
    this.#server.finished.then(async () => {
      const announcement = this.#announcement;
      this.#announcement = undefined;
      await announcement?.[Symbol.asyncDispose]();
      this.#server = undefined;
      this.#setState("stopped");
    });
    this.refreshFiles();
    return json({ ok: true });
  }

  /**
   * Stops the server as SIGTERM does: no new connections, transfers in
   * flight may finish within the grace time.
   *
   * @param wait resolve only when it has stopped
   * @param now cut requests in flight at once, with no grace
   */
  async stop(wait = false, now = false): Promise<void> {
    const server = this.#server;
    if (!server) return;
    const closing = server.close(now ? 0 : SERVER_DEFAULTS.graceMs);
    if (wait) await closing;
  }

  /** Reads the served folder again (at most every half second) and sends it to the pages. */
  refreshFiles(): void {
    if (this.#filesTimer !== undefined) return;
    this.#filesTimer = setTimeout(() => {
      this.#filesTimer = undefined;
      const root = this.#server?.root;
      if (root) {
        readFiles(root).then((files) => {
          this.#files = files;
          this.#hub.send(files);
        }, (error) => this.#addLog(`Cannot list the folder: ${error.message}`, "error"));
      }
    }, 100);
  }

  #fail(message: string, field?: string): Response {
    this.#addLog(message, "error");
    return json({ error: message, ...(field ? { field } : {}) }, 400);
  }

  #onEvent(event: ServerEvent, idleTimeoutMs: number): void {
    const now = Date.now();
    switch (event.type) {
      case "started": {
        const addresses = networkAddresses();
        const fingerprint = event.tls?.fingerprint;
        this.#running = {
          port: event.port,
          root: event.root,
          readOnly: event.readOnly,
          idleTimeoutMs: event.idleTimeoutMs,
          addresses,
          fingerprint: fingerprint ?? null,
          // The code a person compares, and one link per address (each pins the certificate).
          code: fingerprint ? shortCode(fingerprint) : null,
          links: addresses.map((host) =>
            formatLink({ host, port: event.port, ...(fingerprint ? { fingerprint } : {}) })
          ),
          password: event.password === true,
          name: this.#config.name,
          announce: this.#config.announce,
        };
        this.#setState("running");
        this.#setIdle(idleTimeoutMs > 0 ? now + idleTimeoutMs : null);
        break;
      }
      case "request-start":
      case "request-progress": {
        const record = shown(event.record);
        const time = this.#active.get(record.id)?.time ?? now;
        this.#active.set(record.id, { record, time, live: event.record });
        if (event.type === "request-start") this.#setIdle(null);
        this.#hub.send({ type: "request", phase: "progress", record, time });
        // The server reports progress at most every 250 ms, and says nothing
        // more when a transfer stalls: read the records again every second.
        this.#progressTimer ??= setInterval(() => this.#resendProgress(), 1000);
        break;
      }
      case "request-end": {
        const record = shown(event.record);
        const time = this.#active.get(record.id)?.time ?? now;
        this.#active.delete(record.id);
        if (this.#active.size === 0) {
          clearInterval(this.#progressTimer);
          this.#progressTimer = undefined;
        }
        const done = { record, time, ms: event.ms };
        this.#recent.push(done);
        if (this.#recent.length > KEEP) this.#recent.shift();
        this.#hub.send({ type: "request", phase: "end", ...done });
        if (this.#active.size === 0 && idleTimeoutMs > 0 && this.#state === "running") {
          this.#setIdle(now + idleTimeoutMs);
        }
        if (record.op.startsWith("put") && record.outcome === "ok") this.refreshFiles();
        break;
      }
      case "idle-shutdown":
        this.#idleStop = {
          seconds: event.idleTimeoutMs / 1000,
          password: !!this.#running?.password,
        };
        break;
      case "stopping":
        this.#setState("stopping");
        this.#setIdle(null);
        break;
      case "stopped":
        this.#active.clear();
        clearInterval(this.#progressTimer);
        this.#progressTimer = undefined;
        break;
    }
    this.#logger.handle(event);
  }

  #resendProgress(): void {
    for (const [id, active] of this.#active) {
      if (active.live.bytes === active.record.bytes && active.live.op === active.record.op) {
        continue;
      }
      const record = shown(active.live);
      this.#active.set(id, { ...active, record });
      this.#hub.send({ type: "request", phase: "progress", record, time: active.time });
    }
  }

  #setIdle(deadline: number | null): void {
    this.#idleDeadline = deadline;
    this.#hub.send({ type: "idle", deadline });
  }

  #setState(state: "stopped" | "running" | "stopping"): void {
    this.#state = state;
    if (state === "stopped") this.#running = undefined;
    this.#hub.send(this.#stateEvent());
  }

  #stateEvent() {
    return {
      type: "state",
      state: this.#state,
      server: this.#running ?? null,
      idleStop: this.#state === "stopped" ? this.#idleStop : null,
    };
  }

  #addLog(line: string, level: "info" | "error"): void {
    const entry = { time: Date.now(), line: printable(line), level };
    this.#log.push(entry);
    if (this.#log.length > KEEP) this.#log.shift();
    this.#hub.send({ type: "log", ...entry });
  }
}
