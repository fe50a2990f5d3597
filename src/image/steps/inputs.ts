import { basename } from 'node:path';
import { inspectInputs, type InputsReport } from '../../inputs/inspect.js';
import { inputExpectations } from '../../site/board.js';
import type { LoadedSite } from '../../site/load.js';
import { collectEvery } from '../memory.js';
import type { ImageOptions } from '../pipeline.js';
import type { Step } from '../recipe.js';
import { rootfsTimezoneFiles } from '../timezone.js';

interface Needs {
  options: Pick<ImageOptions, 'inputsDir' | 'collectGarbage'>;
  loaded: LoadedSite;
  warnings: string[];
}

/**
 * Plat'Home's three files: integrity, Debian version, architecture, kernel and modules versions. They are
 * found (and a missing one reported) before any of them is read.
 */
export const inputsStep: Step<Needs, { inputs: InputsReport }> = {
  name: 'check inputs',
  async run({ options, loaded, warnings }, progress) {
    const collect = collectEvery(options.collectGarbage);
    const inputs = await inspectInputs(options.inputsDir, {
      ...inputExpectations(loaded.site),
      zone: loaded.site.timezone,
      onProgress: (done, total) => {
        progress.bytes(done, total);
        collect(done);
      },
    });
    // a zone the rootfs lacks is reported now, before any package is fetched
    rootfsTimezoneFiles(loaded, inputs.rootfs, basename(inputs.files.rootfs.path));
    for (const w of inputs.warnings) {
      warnings.push(w);
      progress.warn(w);
    }
    return { inputs };
  },
};
