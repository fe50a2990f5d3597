import { pinTimes, writeSha256Sums, type OutputLedger, type StagedOutput } from '../output.js';
import type { Epoch } from '../pipeline.js';
import type { Nothing, Step } from '../recipe.js';

/** SHA256SUMS over the whole output folder, then every mtime set to the build's epoch. */
export const sumsStep: Step<{ staged: StagedOutput; ledger: OutputLedger; epoch: Epoch }, Nothing> = {
  name: 'SHA256SUMS',
  async run({ staged, ledger, epoch }) {
    await writeSha256Sums(staged.workDir, ledger.knownSums);
    await pinTimes(staged.workDir, epoch.value);
    return {};
  },
};
