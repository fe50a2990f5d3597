import { inspectInputs } from '../../inputs/inspect.js';
import { inputExpectations } from '../../site/board.js';
import { collectEvery } from '../memory.js';
import type { BuildState, Step } from '../pipeline.js';

/** Plat'Home's three files: integrity, Debian version, architecture, kernel and modules versions. */
export const inputsStep: Step<BuildState> = {
  name: 'check inputs',
  async run(state, progress) {
    const site = state.loaded!.site;
    const collect = collectEvery();
    state.inputs = await inspectInputs(state.options.inputsDir, {
      ...inputExpectations(site),
      onProgress: (done, total) => {
        progress.bytes(done, total);
        collect(done);
      },
    });
    for (const w of state.inputs.warnings) {
      state.warnings.push(w);
      progress.warn(w);
    }
  },
};
