/**
 * The client's GUI: a page in the user's browser that lists a server's
 * files, puts files chosen or dropped on the page, and gets files into a
 * chosen local folder, through the library's `list`, `put` and `get`. A
 * browser upload streams straight through: the page sends the file as the
 * request body and this program passes `request.body` on to `put`, so that
 * no file is ever held whole in memory.
 *
 * @module
 */

import { basename } from "node:path";
import {
  cancelled,
  ClientError,
  get,
  list,
  printable,
  type Progress,
  put,
  type TransferResult,
} from "../mod.ts";
import html from "./assets/client.html" with { type: "text" };
import script from "./assets/client.js" with { type: "text" };
import { type GuiOptions, runGui } from "./run.ts";
import { folderProblem, listFolders } from "./system.ts";
import { EventHub, json } from "./web.ts";
import { freeOnServer, remoteFolder, shownEntries } from "./folders.ts";
import { type PageFailure, pageFailure } from "./wording.ts";
import { RememberedConfig } from "./client_config.ts";
import { abortOf, fromHeader, pageUpload, post, type Transfer, validId } from "./requests.ts";
import { folderToPut, getOutput, pageServer, type Target } from "./page_server.ts";
import { SavedFolders } from "./saved_folders.ts";
import { Nearby } from "./nearby.ts";
import { linkFields, trustQuestion } from "./trust_question.ts";

/** Options of the client's GUI. */
export interface ClientGuiOptions extends GuiOptions {
  /** Words a finished transfer as the command line does (default: its name and size). */
  summary?: (op: "put" | "get", result: TransferResult) => string;
}

/** Finished transfers and log lines a page that opens is shown. */
const KEEP = 100;
/** How often a transfer's progress is sent to the page at the most. */
const PROGRESS_EVERY_MS = 200;

/**
 * Runs the client's GUI until Quit on the page, Ctrl-C or SIGTERM; transfers
 * still running then are cancelled (a get keeps its partial download, a put
 * its partial upload on the server, for a resume).
 *
 * @param options whether to open the browser; the program's name; the wording of failures
 * @returns the exit code
 */
export async function runClientGui(options: ClientGuiOptions): Promise<number> {
  const hub = new EventHub();
  const transfers = new Transfers(
    hub,
    options.summary ?? ((op, result) => `${op} '${result.name}': ${result.size} bytes`),
  );
  const nearby = new Nearby((event) => hub.send(event), () => transfers.config.usedServers())
    .start();
  return await runGui(options, "client", {
    html,
    script,
    hub,
    snapshot: () => [...transfers.snapshot(), ...nearby.snapshot()],
    routes: {
      link: post((body) => Promise.resolve(json(linkFields(body?.link)))),
      nearby: post(() => (nearby.refresh(), Promise.resolve(json({ ok: true })))),
      settings: post(async (body) => json(await transfers.remember(body))),
      folders: post(async (body) =>
        json(await listFolders(typeof body?.path === "string" ? body.path : undefined))
      ),
      list: post((body) => transfers.list(body)),
      put: { method: "POST", handle: async (request) => await transfers.put(request) },
      "put-folder": post((body) => transfers.putFolder(body)),
      get: post((body) => transfers.get(body)),
      show: post((body) => Promise.resolve(json(transfers.saved.show(body?.id)))),
      cancel: post((body) => Promise.resolve(json(transfers.cancel(body?.id)))),
      dismiss: post((body) =>
        Promise.resolve(json(transfers.dismiss(body?.id, body?.action === "skip")))
      ),
    },
    stop: async () => void await Promise.all([transfers.cancelAll(), nearby.stop()]),
  });
}

/** The page's transfers, run one at a time, and the settings it remembers. */
class Transfers {
  readonly #hub: EventHub;
  readonly #summary: (op: "put" | "get", result: TransferResult) => string;
  /** The settings the page remembers. */
  readonly config = new RememberedConfig((line) => this.#addLog(line, "error"));
  /** Where finished gets saved, for "Show in folder". */
  readonly saved = new SavedFolders(KEEP);
  #all = new Map<string, Transfer>();
  #controllers = new Map<string, AbortController>();
  #log: { time: number; line: string; level: string }[] = [];
  #turn: Promise<void> = Promise.resolve();
  #running = new Set<Promise<unknown>>();

  constructor(
    hub: EventHub,
    summary: (op: "put" | "get", result: TransferResult) => string,
  ) {
    this.#hub = hub;
    this.#summary = summary;
  }

  snapshot(): unknown[] {
    return [
      { type: "config", config: this.config.current },
      ...this.#log.map((l) => ({ type: "log", ...l })),
      ...[...this.#all.values()].map((transfer) => ({ type: "transfer", transfer })),
    ];
  }

  async remember(body: Record<string, unknown> | undefined): Promise<unknown> {
    await this.config.remember(body);
    return { ok: true };
  }

  async list(body: Record<string, unknown> | undefined): Promise<Response> {
    const named = pageServer(body?.host, body?.port, (key) => body?.[key], this.#addLog);
    if (typeof named === "string") return json({ error: named }, 400);
    const { server, security, target } = named;
    try {
      const folder = remoteFolder(body?.folder);
      const files = await list({ ...server, ...security, ...(folder ? { folder } : {}) });
      await this.config.notePassword(target, target.password);
      return json({ folder: folder ?? "", files: shownEntries(files) });
    } catch (error) {
      // What the page answers itself (asks about the code, asks again in TLS) is no error.
      const trust = await trustQuestion(error, server);
      const asks = trust.trust !== undefined || (error as ClientError).code === "needs-tls";
      const { message, tls } = await this.#failure(error, "list", target, asks);
      return json({ error: message, ...(tls !== undefined ? { tls } : {}), ...trust });
    }
  }

  async put(request: Request): Promise<Response> {
    const url = new URL(request.url);
    const id = url.searchParams.get("id") ?? "";
    const name = url.searchParams.get("name") ?? "";
    const sizeText = request.headers.get("x-file-size") ?? "";
    const size = /^\d+$/.test(sizeText) ? Number(sizeText) : NaN;
    const named = pageServer(
      url.searchParams.get("host"),
      url.searchParams.get("port"),
      (key) => fromHeader(request.headers.get(`x-${key}`)),
      this.#addLog,
    );
    if (typeof named === "string") return json({ error: named }, 400);
    const { server, security, target } = named;
    if (!validId(id) || this.#all.has(id)) return json({ error: "Invalid transfer id" }, 400);
    if (!Number.isSafeInteger(size)) {
      return json({ error: `Invalid file size '${sizeText}' for '${printable(name)}'` }, 400);
    }
    const resume = url.searchParams.get("resume") !== "0";
    const to = remoteFolder(url.searchParams.get("to"));
    const options = { ...server, ...security, resume, ...(to ? { to } : {}) };
    let as = name;
    if (url.searchParams.get("keep") === "1") {
      // Keep both: the first name of the form `name (2).ext` the server's folder does not hold.
      try {
        as = await freeOnServer(name, options);
      } catch (error) {
        return json({ error: (await this.#failure(error, "put", target)).message });
      }
    }
    const stream = pageUpload(request.body, () => this.cancel(id));
    return json(
      await this.#run(
        id,
        "put",
        to ? `${to}/${as}` : as,
        (signal, onProgress) => put({ name: as, size, stream }, { ...options, signal, onProgress }),
        target,
      ),
    );
  }

  async get(body: Record<string, unknown> | undefined): Promise<Response> {
    const id = body?.id;
    const name = body?.name;
    const folder = body?.folder;
    const named = pageServer(body?.host, body?.port, (key) => body?.[key], this.#addLog);
    if (typeof named === "string") return json({ error: named }, 400);
    const { server, security, target } = named;
    if (!validId(id) || this.#all.has(id)) return json({ error: "Invalid transfer id" }, 400);
    if (typeof name !== "string") {
      return json({ error: "Missing the name of the file to get" }, 400);
    }
    if (typeof folder !== "string" || folder.trim() === "") {
      return json({ error: "Choose the folder to save into" }, 400);
    }
    const problem = await folderProblem(folder);
    if (problem) return json({ error: problem }, 400);
    const force = body?.force === true;
    const output = await getOutput(folder, name, body?.keep === true);
    // A get goes on when the page is closed or reloaded; Cancel or Quit stop it.
    return this.#background(this.#run(
      id,
      "get",
      name,
      (signal, onProgress) =>
        get(name, { ...server, ...security, output, force, signal, onProgress }),
      target,
    ));
  }

  /**
   * Puts a local folder whole, as the command line puts a folder path (resume,
   * verification, the same summary); it goes on when the page is closed.
   */
  async putFolder(body: Record<string, unknown> | undefined): Promise<Response> {
    const named = pageServer(body?.host, body?.port, (key) => body?.[key], this.#addLog);
    if (typeof named === "string") return json({ error: named }, 400);
    const { server, security, target } = named;
    const id = body?.id;
    if (!validId(id) || this.#all.has(id)) return json({ error: "Invalid transfer id" }, 400);
    const local = await folderToPut(body?.path);
    if (typeof local === "string") return json({ error: local }, 400);
    const to = remoteFolder(body?.to);
    const name = to ? `${to}/${basename(local.path)}` : basename(local.path);
    const options = { ...server, ...security, ...(to ? { to } : {}) };
    return this.#background(this.#run(
      id,
      "put",
      name,
      (signal, onProgress) => put(local.path, { ...options, signal, onProgress }),
      target,
    ));
  }

  /** A transfer that runs on after its request is answered; Cancel or Quit stop it. */
  #background(running: Promise<unknown>): Response {
    this.#running.add(running);
    running.finally(() => this.#running.delete(running));
    return json({ ok: true });
  }

  cancel(id: unknown): unknown {
    const controller = typeof id === "string" ? this.#controllers.get(id) : undefined;
    if (!controller) return { error: "No such transfer in progress" };
    controller.abort();
    return { ok: true };
  }

  /** A failure the user chose a fix for: skipped, or forgotten (its fix is a transfer of its own). */
  dismiss(id: unknown, skip: boolean): unknown {
    const item = typeof id === "string" ? this.#all.get(id) : undefined;
    if (item?.state !== "failed") return { error: "No such failed transfer" };
    delete item.actions;
    if (skip) Object.assign(item, { state: "skipped", message: "Skipped" });
    else this.#all.delete(item.id);
    this.#hub.send(skip ? { type: "transfer", transfer: item } : { type: "forget", id: item.id });
    return { ok: true };
  }

  async cancelAll(): Promise<void> {
    for (const controller of this.#controllers.values()) controller.abort();
    await Promise.allSettled([...this.#running]);
  }

  /** Runs one transfer in its turn, reporting its progress and its end to the pages. */
  async #run(
    id: string,
    op: "put" | "get",
    name: string,
    transfer: (
      signal: AbortSignal,
      onProgress: (p: Progress) => void,
    ) => Promise<TransferResult>,
    target: Target,
  ): Promise<Record<string, unknown>> {
    const controller = new AbortController();
    const signal = controller.signal;
    const item: Transfer = {
      id,
      op,
      name: printable(name),
      state: "queued",
      done: 0,
      total: null,
      resumedFrom: 0,
      started: Date.now(),
    };
    this.#all.set(id, item);
    this.#controllers.set(id, controller);
    this.#trim();
    const send = () => this.#hub.send({ type: "transfer", transfer: item });
    send();
    const previous = this.#turn;
    const { promise: finished, resolve: release } = Promise.withResolvers<void>();
    this.#turn = previous.then(() => finished);
    let restart = false;
    try {
      // Transfers run one at a time: they share the client's buffers.
      await Promise.race([previous, abortOf(signal)]);
      signal.throwIfAborted();
      item.state = "running";
      item.started = Date.now();
      send();
      let last = 0;
      const result = await transfer(signal, (p) => {
        item.done = p.done;
        item.total = p.total ?? null;
        item.resumedFrom = p.resumedFrom;
        if (p.filesTotal !== undefined) {
          item.files = p.files ?? 0;
          item.filesTotal = p.filesTotal;
        }
        const now = performance.now();
        if (now - last < PROGRESS_EVERY_MS && p.done !== p.total) return;
        last = now;
        send();
      });
      item.state = "done";
      item.done = result.size;
      await this.config.notePassword(target, target.password);
      item.total = result.size;
      const { name: _name, path, skipped, ...rest } = result;
      item.result = {
        ...rest,
        path: printable(path),
        ...(skipped ? { skipped: skipped.length } : {}),
        ...(op === "get" && this.saved.note(id, path) ? { show: true } : {}),
      };
      this.#addLog(printable(this.#summary(op, result)), "info");
    } catch (error) {
      const aborted = signal.aborted;
      const wrapped = error instanceof ClientError || !aborted ? error : cancelled(op, error);
      if (wrapped instanceof ClientError && wrapped.code === "restart") {
        // The server's partial upload holds other data: the page sends the file again from its start.
        restart = true;
        item.state = "restarted";
        item.message =
          `Starting over: the server's partial upload of '${item.name}' holds other data`;
        this.#addLog(item.message, "info");
      } else {
        const words = await this.#failure(wrapped, op, target);
        item.state = aborted || words.cancelled ? "cancelled" : "failed";
        item.message = words.message;
        if (words.actions) item.actions = words.actions;
        if (words.tls !== undefined) item.tls = words.tls;
      }
    } finally {
      this.#controllers.delete(id);
      release();
      send();
    }
    return { state: item.state, message: item.message ?? null, restart };
  }

  /** A failure in the page's words, logged (a cancel, or one the page answers, as information). */
  async #failure(
    error: unknown,
    op: "put" | "get" | "list",
    target: Target,
    answered = false,
  ): Promise<PageFailure> {
    if (!(error instanceof ClientError)) {
      console.error(error);
      const line = `Unexpected error in ${op}: ${printable(String(error))}: please report it`;
      this.#addLog(line, "error");
      return { message: line };
    }
    const folder = op === "get" && error.path !== undefined &&
      await Deno.lstat(error.path).then((info) => info.isDirectory, () => false);
    const words = pageFailure(error, { op, folder });
    if (
      error.code === "password-needed" || error.code === "password-wrong" ||
      error.reason === "unauthorized"
    ) {
      await this.config.notePassword(target, true);
    }
    const shown = { ...words, message: printable(words.message) };
    this.#addLog(shown.message, words.cancelled || answered ? "info" : "error");
    return shown;
  }

  readonly #addLog = (line: string, level: "info" | "error"): void => {
    const entry = { time: Date.now(), line, level };
    this.#log.push(entry);
    if (this.#log.length > KEEP) this.#log.shift();
    this.#hub.send({ type: "log", ...entry });
  };

  /** Forgets the oldest finished transfers. */
  #trim(): void {
    const finished = [...this.#all.values()].filter((t) => !this.#controllers.has(t.id));
    for (const old of finished.slice(0, Math.max(0, finished.length - KEEP))) {
      this.#all.delete(old.id);
    }
  }
}
