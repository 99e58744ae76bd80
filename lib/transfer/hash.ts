/**
 * SHA-256 for bodies: on the calling thread for small ones, and in a worker
 * for large ones, so that hashing a large body runs beside the network and
 * the disk instead of between them. The worker is one per process, started
 * at the first large body and stopped when no hash needs it.
 *
 * A hash in the worker keeps the synchronous shape of `node:crypto`'s
 * (`update`, `copy`, `digest`): each update is copied into a ring of shared
 * memory and hashed there in order; an update waits (blocking, as hashing
 * it here would) only while the ring is full, and a digest waits for the
 * worker to reach it.
 *
 * @module
 */

// Deferred: node:crypto costs a process a few tens of milliseconds to start, which a
// list, and a client's start-up, need not pay (issue 16).
import defer * as nodeCrypto from "node:crypto";

/** A running SHA-256: what a body's sender and receiver feed and compare. */
export interface Sha256 {
  /**
   * Adds bytes.
   *
   * @param data the next bytes; may be reused by the caller once this returns
   * @returns this hash
   */
  update(data: Uint8Array): Sha256;
  /**
   * A hash of the same bytes so far, fed on its own from now on.
   *
   * @returns the copy
   */
  copy(): Sha256;
  /**
   * The digest of everything added; the hash is spent.
   *
   * @param encoding always `"hex"`
   * @returns the lower-case hex digest
   */
  digest(encoding: "hex"): string;
}

/**
 * Bodies of at least this many bytes are hashed in the worker. Below it,
 * the worker's start (a thread and an isolate, once per process) would cost
 * more than hashing beside the transfer saves (about 0.2 s a GiB on two
 * cores, bench/RESULTS.md, issue 25).
 */
export const OFFLOAD_BYTES = 64 * 1024 * 1024;

/**
 * A new SHA-256.
 *
 * @param size the bytes it is expected to be fed, when known: a large body
 *   is hashed in the worker
 * @returns the hash
 */
export function newHash(size = 0): Sha256 {
  if (size >= OFFLOAD_BYTES) {
    const worker = HashWorker.get();
    if (worker) return new WorkerHash(worker);
  }
  return nodeCrypto.createHash("sha256");
}

/**
 * How many hashes the worker holds now, 0 when it is not running: for
 * tests and diagnostics.
 *
 * @returns hashes open in the worker
 */
export function hashesInWorker(): number {
  return HashWorker.open;
}

/** Bytes of the shared ring that updates are copied into. */
const RING_BYTES = 16 * 1024 * 1024;

/** Most bytes of one update copied at a time. */
const PIECE_BYTES = RING_BYTES / 4;

/** Bytes gathered in the ring before they are sent to the worker in one message. */
const SEND_BYTES = 1024 * 1024;

/** Longest wait for the worker before it is taken to be gone. */
const STALL_MS = 30_000;

// Slots of the control array: the last update the worker has hashed, the last digest it has
// written, whether it has started; then the digest's 32 bytes.
const DONE = 0;
const ANSWERED = 1;
const DIGEST_AT = 16;

/** The worker: `node:crypto` hashes, fed by message, read from the ring. */
const WORKER_SOURCE = `
import { createHash } from "node:crypto";
const hashes = new Map();
let ring, control, bytes;
self.onmessage = ({ data: m }) => {
  switch (m[0]) {
    case "ring": ring = new Uint8Array(m[1]); control = new Int32Array(m[2]);
      bytes = new Uint8Array(m[2]); break;
    case "open": hashes.set(m[1], createHash("sha256")); break;
    case "update": hashes.get(m[1]).update(ring.subarray(m[2], m[2] + m[3]));
      Atomics.store(control, ${DONE}, m[4]); Atomics.notify(control, ${DONE}); break;
    case "copy": hashes.set(m[2], hashes.get(m[1]).copy()); break;
    case "digest": bytes.set(hashes.get(m[1]).digest(), ${DIGEST_AT * 4}); hashes.delete(m[1]);
      Atomics.store(control, ${ANSWERED}, m[2]); Atomics.notify(control, ${ANSWERED}); break;
    case "drop": hashes.delete(m[1]); break;
  }
};
`;

/** The one worker of a process, and the ring it reads. */
class HashWorker {
  static #current: HashWorker | undefined;
  static #failed = false;

  /** The running worker, started if need be; undefined where workers cannot run. */
  static get(): HashWorker | undefined {
    if (!HashWorker.#current && !HashWorker.#failed) {
      try {
        HashWorker.#current = new HashWorker();
      } catch {
        // No workers here (a runtime without them): hash on this thread.
        HashWorker.#failed = true;
      }
    }
    return HashWorker.#current;
  }

  /** Hashes open in the running worker. */
  static get open(): number {
    const current = HashWorker.#current;
    return current ? current.#open : 0;
  }

  #url = URL.createObjectURL(new Blob([WORKER_SOURCE], { type: "text/javascript" }));
  #worker = new Worker(this.#url, { type: "module" });
  #ring = new Uint8Array(new SharedArrayBuffer(RING_BYTES));
  #control = new Int32Array(new SharedArrayBuffer(DIGEST_AT * 4 + 32));
  /** Where the next bytes go in the ring. */
  #at = 0;
  /** Bytes copied into the ring and not yet sent: one hash's, contiguous. */
  #pending: { id: number; from: number; bytes: number } | undefined;
  /** Updates sent, each with the ring bytes it holds until the worker has hashed it. */
  #sent = 0;
  #held: { seq: number; bytes: number }[] = [];
  #heldBytes = 0;
  #nextId = 0;
  #open = 0;
  #asked = 0;
  #finalizer = new FinalizationRegistry<number>((id) => this.#drop(id));

  private constructor() {
    this.#worker.postMessage(["ring", this.#ring.buffer, this.#control.buffer]);
  }

  /**
   * A new hash in the worker, or a copy of hash `of`; dropped unspent if
   * `owner` is let go before its digest.
   */
  open(owner: object, of?: number): number {
    const id = ++this.#nextId;
    this.#open++;
    this.#flush();
    this.#worker.postMessage(of === undefined ? ["open", id] : ["copy", of, id]);
    this.#finalizer.register(owner, id, owner);
    return id;
  }

  /** Copies `data` into the ring for hash `id`. */
  update(id: number, data: Uint8Array): void {
    for (let from = 0; from < data.length; from += PIECE_BYTES) {
      const piece = data.subarray(from, Math.min(from + PIECE_BYTES, data.length));
      // A piece never wraps: the end of the ring is skipped, and counted as held until hashed.
      const wrap = this.#at + piece.length > RING_BYTES;
      const skip = wrap ? RING_BYTES - this.#at : 0;
      if (wrap || (this.#pending && this.#pending.id !== id)) this.#flush();
      this.#waitForRoom(skip + piece.length);
      if (wrap) {
        this.#held.push({ seq: this.#sent, bytes: skip });
        this.#heldBytes += skip;
        this.#at = 0;
      }
      this.#ring.set(piece, this.#at);
      this.#pending ??= { id, from: this.#at, bytes: 0 };
      this.#pending.bytes += piece.length;
      this.#at += piece.length;
      if (this.#pending.bytes >= SEND_BYTES) this.#flush();
    }
  }

  /** The digest of hash `id`, which is then gone. */
  digest(id: number, owner: object): string {
    this.#finalizer.unregister(owner);
    this.#flush();
    const asked = ++this.#asked;
    this.#worker.postMessage(["digest", id, asked]);
    this.#wait(ANSWERED, asked);
    const bytes = new Uint8Array(this.#control.buffer, DIGEST_AT * 4, 32);
    const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
    this.#close();
    return hex;
  }

  /** Sends the pending bytes to the worker. */
  #flush(): void {
    const pending = this.#pending;
    if (!pending) return;
    this.#pending = undefined;
    const seq = ++this.#sent;
    this.#held.push({ seq, bytes: pending.bytes });
    this.#heldBytes += pending.bytes;
    this.#worker.postMessage(["update", pending.id, pending.from, pending.bytes, seq]);
  }

  #drop(id: number): void {
    this.#flush();
    this.#worker.postMessage(["drop", id]);
    this.#close();
  }

  /** Stops the worker once no hash is open in it: a process is not held open by it. */
  #close(): void {
    this.#open--;
    if (this.#open > 0) return;
    this.#worker.terminate();
    URL.revokeObjectURL(this.#url);
    if (HashWorker.#current === this) HashWorker.#current = undefined;
  }

  /** Waits, blocking, until the ring has room for `bytes` more beside what is pending. */
  #waitForRoom(bytes: number): void {
    const pending = this.#pending?.bytes ?? 0;
    if (this.#heldBytes + pending + bytes <= RING_BYTES) return;
    this.#flush();
    while (this.#heldBytes + bytes > RING_BYTES && this.#held.length > 0) {
      this.#wait(DONE, this.#held[0]!.seq);
      const done = Atomics.load(this.#control, DONE);
      while (this.#held.length > 0 && this.#held[0]!.seq <= done) {
        this.#heldBytes -= this.#held.shift()!.bytes;
      }
    }
  }

  /** Blocks until control slot `slot` has reached `value`. */
  #wait(slot: number, value: number): void {
    const started = Date.now();
    while (true) {
      const now = Atomics.load(this.#control, slot);
      if (now >= value) return;
      if (Date.now() - started > STALL_MS) throw new Error("The SHA-256 worker stopped answering");
      Atomics.wait(this.#control, slot, now, 1000);
    }
  }
}

/** A SHA-256 kept in the worker. */
class WorkerHash implements Sha256 {
  #worker: HashWorker;
  #id: number;
  #spent = false;

  constructor(worker: HashWorker, of?: number) {
    this.#worker = worker;
    this.#id = worker.open(this, of);
  }

  update(data: Uint8Array): this {
    if (this.#spent) throw new Error("Digest already called");
    this.#worker.update(this.#id, data);
    return this;
  }

  copy(): Sha256 {
    if (this.#spent) throw new Error("Digest already called");
    return new WorkerHash(this.#worker, this.#id);
  }

  digest(_encoding: "hex"): string {
    if (this.#spent) throw new Error("Digest already called");
    this.#spent = true;
    return this.#worker.digest(this.#id, this);
  }
}
