import { loadSite } from '../../site/load.js';
import { boardFacts } from '../../site/board.js';
import type { BuildState, Step } from '../pipeline.js';

/** Read and validate the site file; pick the board's facts. */
export const loadSiteStep: Step<BuildState> = {
  name: 'site file',
  async run(state, progress) {
    state.loaded = await loadSite(state.options.siteFile);
    state.board = boardFacts(state.loaded.site.board);
    progress.note(`${state.loaded.file} (${state.loaded.site.hostname})`);
  },
};
