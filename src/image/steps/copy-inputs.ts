import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { InputsReport } from '../../inputs/inspect.js';
import type { BoardFacts } from '../../site/board.js';
import { copyVerbatim, type OutputLedger, type StagedOutput } from '../output.js';
import type { Epoch } from '../pipeline.js';
import type { Nothing, Step } from '../recipe.js';

interface Needs {
  board: BoardFacts;
  inputs: InputsReport;
  epoch: Epoch;
  staged: StagedOutput;
  ledger: OutputLedger;
}

/**
 * Plat'Home's three files into stick/msf/, byte for byte (a reflink where the filesystem allows). Their
 * sha256 is already known from the input checks; SHA256SUMS reuses it.
 */
export const copyInputsStep: Step<Needs, Nothing> = {
  name: "copy Plat'Home files",
  async run({ board, inputs, epoch, staged, ledger }, progress) {
    const folder = board.stickFolder;
    const msf = join(staged.workDir, 'stick', folder);
    await mkdir(msf, { recursive: true });
    const files = inputs.files;
    const all = [files.rootfs, files.uimage, files.kernTgz];
    const total = all.reduce((n, f) => n + f.size, 0);
    let done = 0;
    for (const f of all) {
      await copyVerbatim(f.path, join(msf, f.name), epoch.value);
      done += f.size;
      progress.bytes(done, total);
      ledger.add({ path: `stick/${folder}/${f.name}`, size: f.size, sha256: f.sha256 });
    }
    return {};
  },
};
