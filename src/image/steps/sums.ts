import { pinTimes, writeSha256Sums } from '../output.js';
import type { NodeState, Step } from '../pipeline.js';

/** SHA256SUMS over the whole output folder, then every mtime set to the build's epoch. */
export const sumsStep: Step<NodeState> = {
  name: 'SHA256SUMS',
  async run(ns) {
    await writeSha256Sums(ns.staged.workDir, ns.knownSums);
    await pinTimes(ns.staged.workDir, ns.build.epoch!.value);
  },
};
