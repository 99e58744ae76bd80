/**
 * A descriptor kept in reserve for the accept loop: when the process has run
 * out of descriptors, the reserve is closed to accept one connection, so that
 * it is served or told busy instead of waiting unanswered.
 *
 * @module
 */

/** Whether an accept failed because the process (or system) has no descriptor left. */
export function outOfDescriptors(error: unknown): boolean {
  const code = (error as { code?: string })?.code;
  return code === "EMFILE" || code === "ENFILE";
}

/** One open descriptor (the served folder itself), given up to accept a connection. */
export class DescriptorReserve {
  readonly #path: string;
  #spare: Deno.FsFile | undefined;
  #closed = false;

  /**
   * Creates a DescriptorReserve and takes its descriptor.
   *
   * @param path a folder that can be opened (the served folder)
   */
  constructor(path: string) {
    this.#path = path;
    this.take();
  }

  /** Opens the reserve descriptor, if it is not open; quietly not while none are free. */
  take(): void {
    if (this.#spare || this.#closed) return;
    try {
      this.#spare = Deno.openSync(this.#path, { read: true });
    } catch (error) {
      // Out of descriptors right now: tried again after the next failed accept.
      if (!outOfDescriptors(error)) throw error;
    }
  }

  /**
   * Gives the reserve up to accept one connection, and takes it back soon after.
   *
   * @param listener where the connection waits
   * @param failed told of an accept that fails all the same
   * @returns the connection, or undefined when there was no reserve or the accept failed
   */
  async accept(
    listener: Deno.Listener,
    failed: (error: unknown) => void,
  ): Promise<Deno.Conn | undefined> {
    if (!this.#spare) {
      this.take();
      return undefined;
    }
    this.#spare.close();
    this.#spare = undefined;
    try {
      return await listener.accept();
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) failed(error);
      return undefined;
    } finally {
      // Taken back once a descriptor is free again (when one is closed).
      setTimeout(() => this.take(), 0);
    }
  }

  /** Closes the reserve for good. */
  close(): void {
    this.#closed = true;
    this.#spare?.close();
    this.#spare = undefined;
  }
}
