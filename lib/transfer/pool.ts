/**
 * The buffers of file bodies: a budget of bytes that all transfers together
 * may hold, so that memory stays bounded however many clients there are.
 *
 * @module
 */

/**
 * The chunk in which privateshare reads and writes file bodies: 4 MiB. It is
 * not visible on the wire. Measured against 32 MiB (bench/RESULTS.md): a
 * 1 GiB put takes about 27% less time and half the memory, because a 4 MiB
 * chunk stays in the CPU's cache between the socket, the SHA-256 and the page
 * cache, where a 32 MiB one is read back from memory at every step.
 */
export const CHUNK_SIZE = 4 * 1024 * 1024;

/** Chunks a pool keeps for reuse when no transfer holds them. */
const SPARE_CHUNKS = 4;

/**
 * The largest buffer handed out when the budget is spent: a transfer then
 * goes on in smaller pieces instead of waiting for a chunk.
 */
export const SPENT_BUFFER_SIZE = 256 * 1024;

/**
 * A budget of bytes for transfer buffers. Full chunks are kept and reused;
 * a buffer for a small file is only as large as the file. Nobody ever waits
 * for the pool: when its budget is spent (by many large or slow transfers),
 * {@link take} hands out a small buffer of its own instead, so that a small
 * transfer never waits behind large or slow ones, and memory stays bounded
 * by the budget plus {@link SPENT_BUFFER_SIZE} per transfer.
 */
export class ChunkPool {
  /** Most bytes all buffers may hold at once. */
  readonly budget: number;
  #used = 0;
  #free: Uint8Array[] = [];
  #issued = new WeakSet<Uint8Array>();
  #waiters: (() => void)[] = [];

  /**
   * Creates a ChunkPool.
   *
   * @param budget most bytes all buffers may hold at once (at least one chunk)
   */
  constructor(budget: number) {
    this.budget = Math.max(budget, CHUNK_SIZE);
  }

  /** Bytes held by buffers in use now. */
  get used(): number {
    return this.#used;
  }

  /**
   * A buffer of `size` bytes (at most one chunk) from the budget or, when
   * the budget is spent, a smaller one of its own: never waits.
   *
   * @param size bytes wanted
   * @returns the buffer; give it back with {@link release}
   */
  take(size: number): Uint8Array {
    return this.tryAcquire(size) ??
      new Uint8Array(Math.min(Math.max(size, 1), SPENT_BUFFER_SIZE));
  }

  /**
   * A buffer of `size` bytes (at most one chunk) from the budget, waiting
   * until the budget has room. Bodies use {@link take}, which never waits.
   *
   * @param size bytes wanted
   * @returns the buffer; give it back with {@link release}
   */
  async acquire(size: number): Promise<Uint8Array> {
    while (true) {
      const buffer = this.tryAcquire(size);
      if (buffer) return buffer;
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /**
   * A buffer of `size` bytes if the budget has room now.
   *
   * @param size bytes wanted
   * @returns the buffer, or undefined
   */
  tryAcquire(size: number): Uint8Array | undefined {
    const bytes = Math.min(Math.max(size, 1), CHUNK_SIZE);
    if (this.#used + bytes > this.budget) return undefined;
    this.#used += bytes;
    const buffer = bytes === CHUNK_SIZE
      ? this.#free.pop() ?? new Uint8Array(CHUNK_SIZE)
      : new Uint8Array(bytes);
    this.#issued.add(buffer);
    return buffer;
  }

  /**
   * Takes `bytes` of the budget for what a request holds besides buffers
   * (a manifest, a have-list), if there is room now.
   *
   * @param bytes bytes to count
   * @returns whether they were counted
   */
  reserve(bytes: number): boolean {
    if (this.#used + bytes > this.budget) return false;
    this.#used += bytes;
    return true;
  }

  /**
   * Gives back bytes counted with {@link reserve}.
   *
   * @param bytes bytes no longer held
   */
  unreserve(bytes: number): void {
    if (bytes <= 0) return;
    this.#used -= bytes;
    this.#waiters.shift()?.();
  }

  /**
   * Gives a buffer back; buffers that did not come from the budget are let go.
   *
   * @param buffer a buffer from {@link take} or {@link tryAcquire}, no longer in use
   */
  release(buffer: Uint8Array): void {
    if (!this.#issued.delete(buffer)) return;
    this.#used -= buffer.length;
    // Keep a few chunks for the next transfers; the rest go back to the
    // system, so that a burst of transfers does not hold memory forever.
    if (buffer.length === CHUNK_SIZE && this.#free.length < SPARE_CHUNKS) this.#free.push(buffer);
    this.#waiters.shift()?.();
  }
}
