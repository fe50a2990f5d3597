/**
 * Downloads from a mirror (http(s):// or a local copy at file://) into the cache, streamed to a size cap:
 * a mirror is not trusted before its signature and checksums are checked, and those need the bytes first,
 * so every download states the most it will take (a .deb its Size in the index, an index its size in the
 * Release file, else a cap per kind of file) and stops one byte past it. The bytes go to a temporary file
 * renamed into place only when complete; on failure, and on SIGINT/SIGTERM, the temporary file is removed.
 * A mirror that stops sending (before its headers or in the middle of a body) is given up after an idle
 * timeout, so a stalled or hostile server cannot hold a build forever.
 */
import { constants, createWriteStream, rmSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { writeAtomically } from '../util/atomic.js';
import { registerCleanup } from '../util/cleanup.js';
import { UserError } from '../util/errors.js';

export interface DownloadProgress {
  url: string;
  received: number;
  total?: number;
  done: boolean;
}

export interface DownloadLimit {
  /** The most bytes the file may have; the download stops at the byte after. */
  maxBytes: number;
  /** Where the limit comes from, for the message: "its Size in the index", "the cap for a Release file". */
  why: string;
}

export class HttpStatusError extends UserError {
  constructor(
    readonly status: number,
    url: string,
  ) {
    super(`${url}: HTTP ${status}`, { code: 'mirror-failed' });
  }
}

/** How long a download may go without a byte from the mirror: a real mirror, even a slow one, never pauses this long. */
export const DEFAULT_IDLE_TIMEOUT_MS = 60_000;

export interface DownloadOptions {
  /** Give up when the mirror sends nothing for this long (default DEFAULT_IDLE_TIMEOUT_MS). */
  idleTimeoutMs?: number;
}

/** The mirror sent (or announced) more than the file may have. */
export class DownloadTooBigError extends UserError {}

function tooBig(url: string, limit: DownloadLimit, announced?: { bytes: number; verb: 'announces' | 'has' }): DownloadTooBigError {
  const what = announced ? `${announced.verb} ${announced.bytes} bytes` : `sent more than ${limit.maxBytes} bytes`;
  return new DownloadTooBigError(`${url}: ${what}, over ${limit.why} (${limit.maxBytes} bytes); download stopped and nothing kept`, { code: 'mirror-failed' });
}

/** Passes bytes through up to the limit; the first byte past it fails the stream (nothing more is read). */
function capped(url: string, limit: DownloadLimit, total: number | undefined, onProgress?: (p: DownloadProgress) => void, onBytes?: () => void) {
  let lastReport = 0;
  const counter = {
    received: 0,
    stream: new Transform({
      transform(chunk: Buffer, _enc, cb) {
        const room = limit.maxBytes - counter.received;
        if (chunk.length > room) {
          counter.received = limit.maxBytes + 1;
          return cb(tooBig(url, limit));
        }
        counter.received += chunk.length;
        onBytes?.();
        if (onProgress && counter.received - lastReport >= 256 * 1024) {
          lastReport = counter.received;
          onProgress({ url, received: counter.received, total, done: false });
        }
        cb(null, chunk);
      },
    }),
  };
  return counter;
}

/** Download `url` to `dest` atomically, at most `limit.maxBytes` bytes, reporting progress. */
export async function download(
  url: string,
  dest: string,
  limit: DownloadLimit,
  onProgress?: (p: DownloadProgress) => void,
  opts: DownloadOptions = {},
): Promise<void> {
  const source = url.startsWith('file:') ? await openLocal(url, limit) : await openHttp(url, limit, opts.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS);
  const counter = capped(url, limit, source.total, onProgress, source.poke);
  // Interrupted mid-download (a signal's default action skips every `finally`): the temporary file goes too.
  let untrack: (() => void) | undefined;
  try {
    await writeAtomically(dest, async (tmp) => {
      untrack = registerCleanup(() => rmSync(tmp, { force: true }));
      try {
        await pipeline(source.body, counter.stream, createWriteStream(tmp));
      } catch (err) {
        if (err instanceof UserError) throw err;
        const idle = source.idleError?.();
        if (idle) throw idle;
        throw new UserError(`${url}: download interrupted: ${(err as Error).message}`, { code: 'mirror-failed', cause: err });
      }
      if (source.total !== undefined && counter.received !== source.total) {
        throw new UserError(`${url}: download cut short (${counter.received} of ${source.total} bytes)`, { code: 'mirror-failed' });
      }
    });
  } finally {
    source.close();
    untrack?.();
  }
  onProgress?.({ url, received: counter.received, total: source.total, done: true });
}

interface Source {
  body: Readable;
  total?: number;
  close(): void;
  /** Bytes arrived: the idle timer starts again. */
  poke?: () => void;
  /** Why the body ended early, when the idle timer ended it. */
  idleError?: () => UserError | undefined;
}

/** Aborts `abort` when poke() is not called for `ms`; stop() ends the watch. */
function idleWatch(url: string, ms: number, abort: AbortController) {
  let fired: UserError | undefined;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      fired = new UserError(`${url}: the mirror sent nothing for ${ms / 1000} s; download stopped and nothing kept`, { code: 'mirror-failed' });
      abort.abort(fired);
    }, ms);
    timer.unref();
  };
  arm();
  return { poke: arm, stop: () => clearTimeout(timer), fired: () => fired };
}

async function openHttp(url: string, limit: DownloadLimit, idleMs: number): Promise<Source> {
  const abort = new AbortController();
  const watch = idleWatch(url, idleMs, abort);
  let res: Response;
  try {
    res = await fetch(url, { signal: abort.signal });
  } catch (err) {
    watch.stop();
    const idle = watch.fired();
    if (idle) throw idle;
    const cause = (err as { cause?: { message?: string } }).cause?.message ?? (err as Error).message;
    throw new UserError(`${url}: cannot download: ${cause}`, { code: 'mirror-failed', cause: err });
  }
  if (!res.ok || !res.body) {
    watch.stop();
    abort.abort();
    throw new HttpStatusError(res.status, url);
  }
  const length = res.headers.get('content-length');
  const total = length !== null && /^\d{1,15}$/.test(length) ? Number(length) : undefined;
  if (total !== undefined && total > limit.maxBytes) {
    watch.stop();
    abort.abort();
    throw tooBig(url, limit, { bytes: total, verb: 'announces' });
  }
  watch.poke();
  const body = Readable.fromWeb(res.body as import('node:stream/web').ReadableStream);
  // Whatever ends the download (done, cap, error), the connection goes: an endless body is not drained.
  return {
    body,
    total,
    close: () => {
      watch.stop();
      abort.abort();
    },
    poke: watch.poke,
    idleError: watch.fired,
  };
}

/**
 * A mirror copy on a local disk (`--mirror file:///srv/debian`): same layout, no network. Only regular
 * files (after symlinks, which mirror copies use between suites): a device or a FIFO would never end.
 */
async function openLocal(url: string, limit: DownloadLimit): Promise<Source> {
  const path = fileURLToPath(url);
  let handle;
  try {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; it changes nothing for a regular file.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch {
    throw new HttpStatusError(404, url);
  }
  try {
    const st = await handle.stat();
    if (!st.isFile()) throw new UserError(`${url}: not a regular file`, { code: 'mirror-failed' });
    if (st.size > limit.maxBytes) throw tooBig(url, limit, { bytes: st.size, verb: 'has' });
    const body = handle.createReadStream({ start: 0, end: limit.maxBytes, autoClose: true });
    return { body, total: st.size, close: () => body.destroy() };
  } catch (err) {
    await handle.close();
    throw err;
  }
}
