import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { blockMapPathFor } from '../../contracts/block-map.js';
import { buildStickImage, type StickFs } from '../../stick/diskimage.js';
import { estimateMinCfBytes, INSTALLER_NAME, renderInstaller } from '../../box/installer.js';
import { MD5SUMS_NAME, writeMd5sums } from '../../stick/md5sums.js';
import { sha256Hex } from '../../util/hash.js';
import { OVERLAY_NAME } from '../../contracts/box-paths.js';
import type { InputsReport } from '../../inputs/inspect.js';
import type { BoardFacts } from '../../site/board.js';
import type { LoadedSite } from '../../site/load.js';
import type { OutputFile, OutputLedger, StagedOutput } from '../output.js';
import type { Epoch } from '../pipeline.js';
import type { Nothing, Step } from '../recipe.js';

const MIB = 1024 * 1024;

interface Needs {
  board: BoardFacts;
  loaded: LoadedSite;
  inputs: InputsReport;
  epoch: Epoch;
  manifestId: string;
  /** The overlay as written: its size goes into the installer's minimum card size. */
  overlay: OutputFile;
  staged: StagedOutput;
  ledger: OutputLedger;
}

/** The CF card must hold the unpacked rootfs, modules, overlay and kernel: refuse smaller cards up front. */
function minCfBytes(inputs: InputsReport, overlay: number): number {
  const estimate = estimateMinCfBytes({
    rootfs: inputs.files.rootfs.size,
    overlay,
    kernTgz: inputs.files.kernTgz.size,
    uImage: inputs.files.uimage.size,
  });
  const known = inputs.rootfs.tarBytes + inputs.kernTgz.tarBytes + 4 * overlay + inputs.files.uimage.size + 64 * MIB;
  return Math.ceil(Math.max(estimate, known) / MIB) * MIB;
}

/**
 * msf_init.sh and MD5SUMS into stick/msf/ (src/stick), then stick.img with its block map next to it:
 * an MBR disk image whose one partition (ext3 labelled MSF by default) holds msf/.
 */
export function stickStep(fs: StickFs = 'ext3'): Step<Needs, Nothing> {
  return {
    name: 'stick image',
    async run({ board, loaded, inputs, epoch, manifestId, overlay, staged, ledger }, progress) {
      const folder = board.stickFolder;
      const stickDir = join(staged.workDir, 'stick');
      const msf = join(stickDir, folder);
      const installer = renderInstaller({
        cfDevice: loaded.site.install.cf_device,
        rootfsName: inputs.files.rootfs.name,
        files: { overlay: OVERLAY_NAME },
        manifestId,
        minCfBytes: minCfBytes(inputs, overlay.size),
      });
      await writeFile(join(msf, INSTALLER_NAME), installer, { mode: 0o755 });
      record(ledger, `stick/${folder}/${INSTALLER_NAME}`, Buffer.from(installer));
      progress.note('MD5SUMS');
      await writeMd5sums(msf);
      record(ledger, `stick/${folder}/${MD5SUMS_NAME}`, await readFile(join(msf, MD5SUMS_NAME)));

      progress.note(`stick.img (${fs}, label ${board.stickLabel})`);
      const image = join(staged.workDir, 'stick.img');
      const info = await buildStickImage(stickDir, image, { fs, label: board.stickLabel, sourceDateEpoch: epoch.value });
      ledger.add({ path: 'stick.img', size: info.imageSize, sha256: info.blockMap.imageSha256 });
      const mapFile = blockMapPathFor(image);
      ledger.add({ path: 'stick.img.bmap', size: (await stat(mapFile)).size, sha256: sha256Hex(await readFile(mapFile)) });
      progress.note(`stick.img ${Math.ceil(info.imageSize / MIB)} MiB, ${info.fs} "${info.label}"`);
      return {};
    },
  };
}

function record(ledger: OutputLedger, rel: string, bytes: Buffer): void {
  ledger.add({ path: rel, size: bytes.length, sha256: sha256Hex(bytes) });
}
