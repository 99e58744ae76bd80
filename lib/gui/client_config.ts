/**
 * What the client page remembers between runs: the server's address and
 * port, the download folder, and whether the server at that address asked
 * for a password, so that a page that opens lists it only when it can.
 * Never the password itself.
 *
 * @module
 */

import { portOf } from "./requests.ts";
import { homeFolder, Settings } from "./system.ts";

/** The client page's remembered settings. */
export interface ClientConfig {
  host: string;
  port: number | null;
  folder: string;
  /** The server at this address asked for a password. */
  password: boolean;
}

/** The client page's settings, kept in the user's configuration folder. */
export class RememberedConfig {
  readonly #settings = new Settings("client-gui.json");
  readonly #onError: (line: string) => void;
  #config: ClientConfig;

  /**
   * Loads the settings saved by an earlier run.
   *
   * @param onError reports a settings file that cannot be written
   */
  constructor(onError: (line: string) => void) {
    this.#onError = onError;
    const saved = this.#settings.load();
    this.#config = {
      host: typeof saved.host === "string" ? saved.host : "",
      port: typeof saved.port === "number" ? saved.port : null,
      folder: typeof saved.folder === "string" ? saved.folder : homeFolder(),
      password: saved.password === true,
    };
  }

  /** The settings now. */
  get current(): ClientConfig {
    return this.#config;
  }

  /**
   * Remembers the page's fields; another address forgets that a password was asked for.
   *
   * @param body the page's host, port and folder
   */
  async remember(body: Record<string, unknown> | undefined): Promise<void> {
    const config = this.#config;
    const host = typeof body?.host === "string" ? body.host.trim() : config.host;
    const port = body?.port === null ? null : portOf(body?.port) ?? config.port;
    const folder = typeof body?.folder === "string" ? body.folder : config.folder;
    const same = host === config.host && port === config.port;
    this.#config = { host, port, folder, password: same && config.password };
    await this.#save();
  }

  /**
   * Remembers whether the server the page names asks for a password.
   *
   * @param server the server a request went to
   * @param needed whether it needed one
   */
  async notePassword(server: { host: string; port: number }, needed: boolean): Promise<void> {
    const config = this.#config;
    if (server.host !== config.host || server.port !== config.port) return;
    if (config.password === needed) return;
    this.#config = { ...config, password: needed };
    await this.#save();
  }

  async #save(): Promise<void> {
    const { password, ...rest } = this.#config;
    const error = await this.#settings.save(password ? this.#config : rest);
    if (error) this.#onError(error);
  }
}
