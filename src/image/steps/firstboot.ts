import { firstbootFiles } from '../../box/firstboot.js';
import type { GeneratedFile } from '../../contracts/generated-file.js';
import type { BoardFacts } from '../../site/board.js';
import type { LoadedSite } from '../../site/load.js';
import type { Step } from '../recipe.js';
import { OBSBUILD_VERSION } from '../version.js';

interface Needs {
  manifestId: string;
  loaded: LoadedSite;
  board: BoardFacts;
}

/** The one-shot first-boot script, its rc links and /etc/obsbuild/manifest-id, now that the id is known. */
export const firstbootStep: Step<Needs, { idFiles: GeneratedFile[] }> = {
  name: 'first-boot script',
  async run({ manifestId, loaded, board }) {
    const idFiles = firstbootFiles({
      manifestId,
      manager: loaded.site.lvs.manager,
      obsbuildVersion: OBSBUILD_VERSION,
      runlevels: board.firstbootRunlevels,
    });
    return { idFiles };
  },
};
