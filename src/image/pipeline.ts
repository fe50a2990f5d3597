/**
 * `obsbuild image`: verify, then the build-wide steps once, then the node steps once per appliance (one for
 * a single director, two for an HA pair), each into its own staged output folder. Every folder is renamed
 * into place only when all of them succeeded; a failure or an interruption removes them, and out/ stays as
 * it was. The steps and the state they share are in steps/index.ts.
 */
import type { PackageEntry } from '../debian/packages-index.js';
import { loadSite, type LoadedSite } from '../site/load.js';
import { siteNodes } from '../site/nodes.js';
import type { StickFs } from '../stick/diskimage.js';
import { registerCleanup } from '../util/cleanup.js';
import { checkOutputParent } from '../util/output-path.js';
import type { Collector } from './memory.js';
import { checkOutputs, commitOutputs, discardOutputs, discardOutputsSync, OutputLedger, stageOutput, type StagedOutput } from './output.js';
import type { Reporter } from './recipe.js';
import { buildRecipe, nodeRecipe, nodesToBuild, type BuildState, type NodeState } from './steps/index.js';

export interface ImageOptions {
  profile: string;
  siteFile: string;
  /** Build only this member of an HA pair. */
  node?: 'master' | 'backup';
  inputsDir: string;
  packagesDir?: string;
  mirror?: string;
  outDir: string;
  /** Where downloaded packages are cached (for --mirror). */
  cacheDir?: string;
  /** Keyrings for the mirror's Release signature (default: Debian's archive keys). */
  keyrings?: string[];
  /** Use a mirror whose Release file is missing, unsigned or not verifiable, with a warning. */
  allowUnsigned?: boolean;
  /** The environment to read SOURCE_DATE_EPOCH from. */
  env: NodeJS.ProcessEnv;
  /** Filesystem of stick.img (default ext3). */
  fs?: StickFs;
  /** Run between steps and every few MB of a long read, to keep peak memory flat (see memory.ts). */
  collectGarbage?: Collector;
}

export interface ResolvedDeb {
  entry: PackageEntry;
  /** The .deb on disk (local folder or mirror cache). */
  debPath: string;
  /** Of the .deb as read (and checked against the index). */
  sha256: string;
  size: number;
}

export interface Epoch {
  value: number;
  source: string;
}

/** The site file as read once by the verify stage: the site, or why it could not be loaded. */
export type SiteLoad = { loaded: LoadedSite } | { error: unknown };

/** What the verify stage checked; the build starts from it. */
export interface VerifiedBuild {
  options: ImageOptions;
  siteLoad: SiteLoad;
}

export interface ImageResult {
  outputs: {
    hostname: string;
    role: string;
    dir: string;
    manifestId: string;
    files: { path: string; size: number; sha256: string }[];
  }[];
  packages: { name: string; version: string; architecture: string }[];
  sourceDateEpoch: number;
  epochSource: string;
  warnings: string[];
}

export interface BuiltImages {
  build: BuildState;
  nodes: NodeState[];
}

/**
 * Before any long work: read the site file (once for the whole build) and refuse output folders that may
 * not be replaced. A site that does not load is not an error yet: the 'site file' step reports it with the
 * progress display, like every other input problem, and only the --out folder itself is checked.
 */
export async function verifyBuild(options: ImageOptions): Promise<VerifiedBuild> {
  const siteLoad: SiteLoad = await loadSite(options.siteFile).then(
    (loaded) => ({ loaded }),
    (error: unknown) => ({ error }),
  );
  if ('loaded' in siteLoad) {
    const nodes = siteNodes(siteLoad.loaded.site).filter((n) => !options.node || n.role === options.node || n.role === 'single');
    await checkOutputs(options.outDir, nodes.map((n) => n.hostname));
  } else {
    await checkOutputParent(options.outDir, '--out');
  }
  return { options, siteLoad };
}

/** The whole build. A failure anywhere removes every staged folder and leaves out/ as it was. */
export async function buildImages(verified: VerifiedBuild, reporter: Reporter): Promise<BuiltImages> {
  const { options } = verified;
  // Between steps, the spent buffers of the previous one are collected (see memory.ts).
  const run = { beforeStep: options.collectGarbage };
  const build = await buildRecipe.run({ options, siteLoad: verified.siteLoad, warnings: [] }, reporter, run);
  const staged: StagedOutput[] = [];
  // Interrupted while building: remove the staged folders (out/ keeps its previous state).
  const unregister = registerCleanup(() => discardOutputsSync(staged));
  const nodes: NodeState[] = [];
  try {
    const views = nodesToBuild(build);
    const recipe = nodeRecipe(options.fs);
    for (const node of views) {
      const out = await stageOutput(options.outDir, node.hostname);
      staged.push(out);
      const prefix = views.length > 1 ? `${node.hostname}: ` : '';
      nodes.push(await recipe.run({ ...build, node, staged: out, ledger: new OutputLedger() }, reporter, { ...run, prefix }));
    }
    await commitOutputs(staged);
  } catch (err) {
    await discardOutputs(staged);
    throw err;
  } finally {
    unregister();
  }
  return { build, nodes };
}

export function summarize({ build, nodes }: BuiltImages): ImageResult {
  return {
    outputs: nodes.map((n) => ({
      hostname: n.node.hostname,
      role: n.node.role,
      dir: n.staged.finalDir,
      manifestId: n.manifestId,
      files: n.ledger.files.sort((a, b) => (a.path < b.path ? -1 : 1)),
    })),
    packages: build.packages.map((p) => ({ name: p.entry.name, version: p.entry.version, architecture: p.entry.arch })),
    sourceDateEpoch: build.epoch.value,
    epochSource: build.epoch.source,
    warnings: build.warnings,
  };
}
