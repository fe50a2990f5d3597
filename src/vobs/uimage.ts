import { open } from 'node:fs/promises';
import { inspectUImage, type UImagePart } from '../inputs/uimage.js';
import { STANDIN_MTIME } from './kerntgz.js';
import { runTool } from '../util/run-tool.js';

/**
 * Debian's kernel packed as Plat'Home packs theirs: a U-Boot multi-file image (kernel, ramdisk) made with
 * the real mkimage. On vobs the ramdisk is the stand-in firmware, which boots the CF card's root filesystem
 * when no install stick is present, like Plat'Home's cfboot initrd.
 */
export async function buildUImage(opts: { vmlinuz: string; ramdisk: string; release: string; dest: string }): Promise<void> {
  await runTool(
    'mkimage',
    ['-A', 'x86_64', '-O', 'linux', '-T', 'multi', '-C', 'none', '-a', '0', '-e', '0', '-n', `Linux-${opts.release}`,
      '-d', `${opts.vmlinuz}:${opts.ramdisk}`, opts.dest],
    { env: { SOURCE_DATE_EPOCH: String(STANDIN_MTIME) }, what: 'packing uImage.initrd-cfboot' },
  );
}

/** Kernel and ramdisk bytes of a multi-file uImage (what U-Boot's bootm hands to the kernel). */
export async function splitUImage(file: string): Promise<{ kernel: Buffer; ramdisk?: Buffer; name: string }> {
  const report = await inspectUImage(file, { expectArch: null });
  const read = async (part: UImagePart) => {
    const fh = await open(file, 'r');
    try {
      const buf = Buffer.alloc(part.size);
      await fh.read(buf, 0, part.size, part.offset);
      return buf;
    } finally {
      await fh.close();
    }
  };
  const kernelPart = report.parts.find((p) => p.role === 'kernel');
  if (!kernelPart) throw new Error(`${file}: no kernel part`);
  const ramdiskPart = report.parts.find((p) => p.role === 'ramdisk');
  return {
    kernel: await read(kernelPart),
    ramdisk: ramdiskPart ? await read(ramdiskPart) : undefined,
    name: report.header.name,
  };
}
