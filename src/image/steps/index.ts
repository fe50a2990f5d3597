/**
 * The `obsbuild image` recipe: the build-wide steps once, then the node steps for each appliance. Each step
 * declares what it needs and what it adds (see recipe.ts); the types below are what the steps produce.
 */
import { siteNodes, pickNode, type NodeView } from '../../site/nodes.js';
import type { StickFs } from '../../stick/diskimage.js';
import type { OutputLedger, StagedOutput } from '../output.js';
import type { ImageOptions, SiteLoad } from '../pipeline.js';
import { Recipe, type StateOf } from '../recipe.js';
import { configStep } from './config.js';
import { copyInputsStep } from './copy-inputs.js';
import { epochStep } from './epoch.js';
import { firstbootStep } from './firstboot.js';
import { inputsStep } from './inputs.js';
import { lintStep } from './lint.js';
import { loadSiteStep } from './load-site.js';
import { manifestStep } from './manifest.js';
import { overlayStep } from './overlay.js';
import { packagesStep } from './packages.js';
import { stickStep } from './stick.js';
import { sumsStep } from './sums.js';

/** What the build starts from: the options, the site as the verify stage read it, and where warnings collect. */
export interface BuildInput {
  options: ImageOptions;
  siteLoad: SiteLoad;
  /** Every warning of the build, in order, for the summary (steps also show them as they come). */
  warnings: string[];
}

/** Site file and lint first: they are cheap, and the build stops there before reading any large input. */
export const buildRecipe = Recipe.start<BuildInput>()
  .then(loadSiteStep)
  .then(lintStep)
  .then(inputsStep)
  .then(epochStep)
  .then(packagesStep);

/** What the build-wide steps found out, shared by every node. */
export type BuildState = StateOf<typeof buildRecipe>;

/** One appliance's start: the build's state, which node, its staged output folder and what is in it so far. */
export type NodeInput = BuildState & {
  node: NodeView;
  staged: StagedOutput;
  ledger: OutputLedger;
};

export function nodeRecipe(fs: StickFs = 'ext3') {
  return Recipe.start<NodeInput>()
    .then(configStep)
    .then(firstbootStep)
    .then(copyInputsStep)
    .then(overlayStep)
    .then(stickStep(fs))
    .then(manifestStep)
    .then(sumsStep);
}

export type NodeState = StateOf<ReturnType<typeof nodeRecipe>>;

/** Every node of the site, or only the one --node names. */
export function nodesToBuild(state: Pick<BuildState, 'loaded' | 'options'>): NodeView[] {
  const site = state.loaded.site;
  return state.options.node ? [pickNode(site, state.options.node)] : siteNodes(site);
}
