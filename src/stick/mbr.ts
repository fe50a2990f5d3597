/**
 * The classic MBR (DOS) partition table: all knowledge of its layout lives here.
 * 512-byte sector 0: boot code (0..439), disk signature (440, u32 LE), 2 reserved bytes, four 16-byte
 * partition entries at 446, boot signature 0x55 0xAA at 510.
 * Entry: status (0x80 = active), CHS of first sector (3 bytes), type, CHS of last sector, LBA start (u32 LE),
 * sector count (u32 LE).
 */
export const SECTOR = 512;
export const MBR_PART_TYPE = {
  linux: 0x83,
  fat16Lba: 0x0e,
  fat32Lba: 0x0c,
} as const;

export interface MbrPartition {
  /** 1-4 */
  index: number;
  bootable: boolean;
  type: number;
  startLba: number;
  sectors: number;
}

export interface Mbr {
  diskSignature: number;
  partitions: MbrPartition[];
}

const ENTRY_OFFSET = 446;
const ENTRY_SIZE = 16;
const MAX_U32 = 0xffffffff;

/** CHS triple for an LBA with the usual 255 heads / 63 sectors geometry, or the "beyond CHS" marker. */
export function lbaToChs(lba: number): [number, number, number] {
  const heads = 255;
  const sectorsPerTrack = 63;
  const cylinder = Math.floor(lba / (heads * sectorsPerTrack));
  if (cylinder > 1023) return [0xfe, 0xff, 0xff];
  const head = Math.floor(lba / sectorsPerTrack) % heads;
  const sector = (lba % sectorsPerTrack) + 1;
  return [head, ((cylinder >> 2) & 0xc0) | sector, cylinder & 0xff];
}

export function encodeMbr(mbr: Mbr): Buffer {
  const buf = Buffer.alloc(SECTOR);
  buf.writeUInt32LE(mbr.diskSignature >>> 0, 440);
  if (mbr.partitions.length > 4) throw new Error('an MBR holds at most four primary partitions');
  for (const p of mbr.partitions) {
    if (p.index < 1 || p.index > 4) throw new Error(`MBR partition index ${p.index} is not 1-4`);
    if (p.startLba < 1 || p.sectors < 1 || p.startLba + p.sectors - 1 > MAX_U32) {
      throw new Error(`MBR partition ${p.index}: start ${p.startLba} / ${p.sectors} sectors does not fit an MBR`);
    }
    const at = ENTRY_OFFSET + (p.index - 1) * ENTRY_SIZE;
    buf[at] = p.bootable ? 0x80 : 0x00;
    Buffer.from(lbaToChs(p.startLba)).copy(buf, at + 1);
    buf[at + 4] = p.type;
    Buffer.from(lbaToChs(p.startLba + p.sectors - 1)).copy(buf, at + 5);
    buf.writeUInt32LE(p.startLba, at + 8);
    buf.writeUInt32LE(p.sectors, at + 12);
  }
  buf[510] = 0x55;
  buf[511] = 0xaa;
  return buf;
}

/** Parses sector 0; returns undefined when the boot signature is missing. Empty entries are skipped. */
export function parseMbr(sector0: Buffer): Mbr | undefined {
  if (sector0.length < SECTOR || sector0[510] !== 0x55 || sector0[511] !== 0xaa) return undefined;
  const partitions: MbrPartition[] = [];
  for (let i = 0; i < 4; i++) {
    const at = ENTRY_OFFSET + i * ENTRY_SIZE;
    const type = sector0[at + 4];
    const sectors = sector0.readUInt32LE(at + 12);
    if (type === 0 || sectors === 0) continue;
    partitions.push({ index: i + 1, bootable: sector0[at] === 0x80, type, startLba: sector0.readUInt32LE(at + 8), sectors });
  }
  return { diskSignature: sector0.readUInt32LE(440), partitions };
}
