import { join } from 'node:path';
import { UserError } from '../../util/errors.js';
import { mergeFiles, type GeneratedFile } from '../../contracts/generated-file.js';
import type { ManifestIdentity } from '../../contracts/manifest.js';
import { writeOverlay } from '../overlay.js';
import { isMultiarchDb } from '../../debian/dpkg-db.js';
import type { InputsReport } from '../../inputs/inspect.js';
import type { BoardFacts } from '../../site/board.js';
import type { OutputFile, OutputLedger, StagedOutput } from '../output.js';
import type { Epoch, ResolvedDeb } from '../pipeline.js';
import type { Step } from '../recipe.js';
import { OVERLAY_NAME } from '../../contracts/box-paths.js';

interface Needs {
  board: BoardFacts;
  inputs: InputsReport;
  packages: ResolvedDeb[];
  config: GeneratedFile[];
  idFiles: GeneratedFile[];
  identity: ManifestIdentity;
  epoch: Epoch;
  staged: StagedOutput;
  ledger: OutputLedger;
  warnings: string[];
}

/** stick/msf/obsbuild-overlay.tgz: packages, dpkg registration, configuration, first-boot script. */
export const overlayStep: Step<Needs, { overlay: OutputFile }> = {
  name: 'overlay',
  async run({ board, inputs, packages, config, idFiles, identity, epoch, staged, ledger, warnings }, progress) {
    const msf = join(staged.workDir, 'stick', board.stickFolder);
    const rel = `stick/${board.stickFolder}/${OVERLAY_NAME}`;
    const result = await writeOverlay(join(msf, OVERLAY_NAME), {
      packages: packages.map(({ entry, debPath }) => ({ debPath, entry })),
      baseStatus: inputs.rootfs.files.dpkgStatus ?? '',
      multiarchDb: isMultiarchDb(inputs.rootfs.files.dpkgDbFormat),
      files: mergeFiles(config, idFiles),
      mtime: epoch.value,
      stagingParent: staged.workDir,
      onProgress: (line) => progress.note(line),
    });
    // The .deb bytes as read: the manifest records what was really layered in.
    const byName = new Map(result.packages.map((p) => [`${p.name}\0${p.version}`, p.sha256]));
    for (const p of identity.packages) {
      const actual = byName.get(`${p.name}\0${p.version}`);
      if (actual && p.sha256 !== actual) throw new UserError(`${p.filename}: the file changed while the build was reading it`, { code: 'package-invalid' });
    }
    for (const w of result.warnings) {
      if (warnings.includes(w)) continue; // every node layers the same packages
      warnings.push(w);
      progress.warn(w);
    }
    progress.note(`${result.entries} entries, ${result.packages.length} packages, ${result.bytes} bytes`);
    const overlay = { path: rel, size: result.bytes, sha256: result.sha256 };
    ledger.add(overlay);
    return { overlay };
  },
};
