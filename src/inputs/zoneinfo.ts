/**
 * The site's time zone file, from the rootfs's own tzdata, found during the one pass over the tarball. A zone's
 * name may be a regular file, a hard link (to a file earlier in the tar) or a symlink (to a file earlier or
 * later: posix/Asia/Tokyo, Japan), so which entry holds its bytes is only known once every link has been seen.
 * The pass therefore keeps the TZif files under usr/share/zoneinfo, one copy per distinct content and within a
 * bound, and the zone is resolved through the archive's links at the end; only its bytes are kept after that.
 */
import { createHash } from 'node:crypto';
import { ZONEINFO_DIR } from '../contracts/box-paths.js';
import type { TarEntry } from '../archive/tar-entry.js';
import { UserError } from '../util/errors.js';

/** RFC 8536: every TZif file starts with "TZif" and a 44-byte header. */
const TZIF_MAGIC = Buffer.from('TZif', 'latin1');
const TZIF_HEADER_BYTES = 44;
/** Real zone files are a few kilobytes (the largest, with leap seconds, under 5 KB). */
export const ZONE_FILE_MAX_BYTES = 64 * 1024;
/** Distinct zone files kept during one pass: a whole tzdata (without right/) is about 1 MB of them. */
export const ZONEINFO_MAX_BYTES = 8 * 1024 * 1024;

export function isTzif(bytes: Buffer): boolean {
  return bytes.length >= TZIF_HEADER_BYTES && bytes.subarray(0, TZIF_MAGIC.length).equals(TZIF_MAGIC);
}

/** The zone's file as the rootfs has it, or why there is none to use. */
export type ZoneLookup =
  | { zone: string; /** The links followed, root-relative. */ chain: string[]; bytes: Buffer }
  | { zone: string; chain: string[]; problem: string };

type Seen = { sha256: string } | { tooBig: number } | { notTzif: true };

/** Keeps the zone files of one pass (see the top of this file); `zone` is the name the site asks for. */
export class ZoneinfoCollector {
  private readonly dir = `${ZONEINFO_DIR.slice(1)}/`;
  private readonly seen = new Map<string, Seen>();
  private readonly contents = new Map<string, Buffer>();
  private kept = 0;

  constructor(
    private readonly label: string,
    readonly zone: string,
  ) {}

  /** Root-relative path of the zone's name in the archive. */
  get start(): string {
    return this.dir + this.zone;
  }

  /** How many bytes of this entry to capture (called before its data is read); undefined for none. */
  wants(e: TarEntry): number | undefined {
    if (e.type !== 'file' || !e.path.startsWith(this.dir)) return undefined;
    // right/ holds every zone again with leap seconds: only read when the site names one of those
    if (e.path.startsWith(`${this.dir}right/`) && !this.zone.startsWith('right/')) return undefined;
    if (e.size > ZONE_FILE_MAX_BYTES) {
      this.seen.set(e.path, { tooBig: e.size });
      return undefined;
    }
    return ZONE_FILE_MAX_BYTES;
  }

  /** A captured entry's bytes: kept once per content when it is a TZif file. */
  add(path: string, data: Buffer): void {
    if (!isTzif(data)) {
      this.seen.set(path, { notTzif: true });
      return;
    }
    const sha256 = createHash('sha256').update(data).digest('hex');
    if (!this.contents.has(sha256)) {
      this.kept += data.length;
      if (this.kept > ZONEINFO_MAX_BYTES) {
        throw new UserError(
          `${this.label}: /${path}: the zone files under ${ZONEINFO_DIR} come to more than ${ZONEINFO_MAX_BYTES} bytes, more than any tzdata`,
          { code: 'input-invalid' },
        );
      }
      this.contents.set(sha256, data);
    }
    this.seen.set(path, { sha256 });
  }

  /** The zone, given where its name leads through the archive's links (undefined: a symlink loop). */
  lookup(resolved: { chain: string[]; path: string } | undefined): ZoneLookup {
    const zone = this.zone;
    if (!resolved) return { zone, chain: [this.start], problem: `/${this.start} is a symlink loop` };
    const { chain, path } = resolved;
    const shown = chain.map((p) => `/${p}`).join(' -> ');
    const seen = this.seen.get(path);
    if (seen === undefined) {
      const where = path.startsWith(this.dir) ? `no file ${shown}` : `${shown} leads out of ${ZONEINFO_DIR}`;
      return { zone, chain, problem: `the rootfs's tzdata has no zone ${zone} (${where})` };
    }
    if ('tooBig' in seen) return { zone, chain, problem: `${shown} is ${seen.tooBig} bytes, not a zone file` };
    if ('notTzif' in seen) return { zone, chain, problem: `${shown} is not a TZif zone file` };
    return { zone, chain, bytes: this.contents.get(seen.sha256)! };
  }
}
