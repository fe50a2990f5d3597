import type { LoadedSite } from '../../site/load.js';
import { boardFacts, type BoardFacts } from '../../site/board.js';
import type { SiteLoad } from '../pipeline.js';
import type { Step } from '../recipe.js';

/** The site file, read and validated once by the verify stage, reported here; and the board's facts. */
export const loadSiteStep: Step<{ siteLoad: SiteLoad }, { loaded: LoadedSite; board: BoardFacts }> = {
  name: 'site file',
  async run({ siteLoad }, progress) {
    if ('error' in siteLoad) throw siteLoad.error;
    const { loaded } = siteLoad;
    const board = boardFacts(loaded.site.board);
    progress.note(`${loaded.file} (${loaded.site.hostname})`);
    return { loaded, board };
  },
};
