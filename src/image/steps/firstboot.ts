import { firstbootFiles } from '../../box/firstboot.js';
import type { NodeState, Step } from '../pipeline.js';
import { OBSBUILD_VERSION } from '../pipeline.js';

/** The one-shot first-boot script, its rc links and /etc/obsbuild/manifest-id, now that the id is known. */
export const firstbootStep: Step<NodeState> = {
  name: 'first-boot script',
  async run(ns) {
    ns.idFiles = firstbootFiles({
      manifestId: ns.manifestId!,
      manager: ns.build.loaded!.site.lvs.manager,
      obsbuildVersion: OBSBUILD_VERSION,
      runlevels: ns.build.board!.firstbootRunlevels,
    });
  },
};
