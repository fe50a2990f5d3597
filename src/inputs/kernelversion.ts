import { once } from 'node:events';
import { createGunzip, type Gunzip } from 'node:zlib';

/**
 * Finds the kernel's banner ("Linux version 2.6.29-obs600 (user@host) ...") in a kernel image fed in
 * chunks, gunzipping on the fly when the image starts with the gzip magic. The release string is what
 * `uname -r` prints and what names the lib/modules/<release>/ directory.
 */

const NEEDLE = Buffer.from('Linux version ');
/** Bytes after the needle kept to read the release (releases are short; 64 is generous). */
const RELEASE_MAX = 64;
/**
 * Decompressed kernel bytes scanned at most: a kernel's banner sits in its first tens of MiB; past this a
 * gzip bomb would only cost time, so the scan stops and the version comes from the image name.
 */
export const MAX_SCANNED_KERNEL_BYTES = 256 << 20;

export function releaseFromBanner(bytes: Buffer): string | undefined {
  const m = /^(\d+\.\d+[^\s\0()]*)/.exec(bytes.toString('latin1'));
  return m?.[1];
}

/** Scans a byte stream for the banner; works across chunk boundaries. */
class BannerScanner {
  private carry = Buffer.alloc(0);
  found?: string;

  feed(chunk: Buffer): void {
    if (this.found !== undefined) return;
    let buf = this.carry.length ? Buffer.concat([this.carry, chunk]) : chunk;
    for (;;) {
      const at = buf.indexOf(NEEDLE);
      if (at < 0) {
        this.carry = Buffer.from(buf.subarray(Math.max(0, buf.length - NEEDLE.length + 1)));
        return;
      }
      const after = buf.subarray(at + NEEDLE.length);
      if (after.length < RELEASE_MAX) {
        this.carry = Buffer.from(buf.subarray(at));
        return;
      }
      const release = releaseFromBanner(after);
      if (release) {
        this.found = release;
        return;
      }
      buf = buf.subarray(at + 1);
    }
  }

  /** At the end of the data a banner may sit closer than RELEASE_MAX to the end. */
  end(): void {
    if (this.found !== undefined || this.carry.length < NEEDLE.length) return;
    const at = this.carry.indexOf(NEEDLE);
    if (at >= 0) this.found = releaseFromBanner(this.carry.subarray(at + NEEDLE.length));
  }
}

export class KernelVersionScanner {
  private readonly scanner = new BannerScanner();
  private gunzip?: Gunzip;
  private gunzipDone?: Promise<unknown>;
  private started = false;
  private pendingHead = Buffer.alloc(0);
  /** Set when the kernel claims to be gzip but cannot be decompressed. */
  gzipError?: string;
  compressed = false;

  get version(): string | undefined {
    return this.scanner.found;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.scanner.found !== undefined || this.gzipError) return;
    if (!this.started) {
      // Decide raw vs gzip from the first two bytes.
      this.pendingHead = Buffer.concat([this.pendingHead, chunk]);
      if (this.pendingHead.length < 2) return;
      this.started = true;
      chunk = this.pendingHead;
      this.pendingHead = Buffer.alloc(0);
      if (chunk[0] === 0x1f && chunk[1] === 0x8b) {
        this.compressed = true;
        const gunzip = createGunzip();
        this.gunzip = gunzip;
        let scanned = 0;
        gunzip.on('data', (out: Buffer) => {
          this.scanner.feed(out);
          scanned += out.length;
          // Found it (or scanned more than any kernel holds): no need to decompress the rest.
          if (this.scanner.found !== undefined || scanned > MAX_SCANNED_KERNEL_BYTES) gunzip.destroy();
        });
        this.gunzipDone = new Promise<void>((resolve) => {
          gunzip.on('error', (err: Error) => {
            if (this.scanner.found === undefined) this.gzipError = err.message;
            resolve();
          });
          gunzip.on('close', () => resolve());
          gunzip.on('end', () => resolve());
        });
      }
    }
    if (this.gunzip) {
      if (this.gunzip.destroyed) return;
      if (!this.gunzip.write(chunk)) {
        await Promise.race([once(this.gunzip, 'drain'), this.gunzipDone]);
      }
    } else {
      this.scanner.feed(chunk);
    }
  }

  async end(): Promise<void> {
    if (!this.started && this.pendingHead.length) {
      this.scanner.feed(this.pendingHead);
    }
    if (this.gunzip && !this.gunzip.destroyed) {
      this.gunzip.end();
      await this.gunzipDone;
    }
    this.scanner.end();
  }
}
