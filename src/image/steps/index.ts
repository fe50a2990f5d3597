/**
 * The `obsbuild image` recipe: the build-wide steps once, then the node steps for each appliance.
 */
import { siteNodes, pickNode } from '../../site/nodes.js';
import type { BuildState, NodeState, Step } from '../pipeline.js';
import type { NodeView } from '../../site/nodes.js';
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
import type { StickFs } from '../../stick/diskimage.js';
import { sumsStep } from './sums.js';

export const buildSteps: readonly Step<BuildState>[] = [loadSiteStep, lintStep, inputsStep, epochStep, packagesStep];

export function nodeSteps(fs: StickFs = 'ext3'): Step<NodeState>[] {
  return [configStep, firstbootStep, copyInputsStep, overlayStep, stickStep(fs), manifestStep, sumsStep];
}

/** Every node of the site, or only the one --node names. */
export function nodesToBuild(state: BuildState): NodeView[] {
  const site = state.loaded!.site;
  return state.options.node ? [pickNode(site, state.options.node)] : siteNodes(site);
}

export function imageRecipe(opts: { fs?: StickFs } = {}) {
  return { build: buildSteps, node: nodeSteps(opts.fs), nodes: nodesToBuild };
}
