/**
 * `obsbuild image` as a recipe of named steps (after debos's actions): each step reads and fills in a
 * state object and can be run and tested alone. The build steps run once; the node steps run once per
 * appliance (one for a single director, two for an HA pair), each into its own staged output folder,
 * and every folder is renamed into place only when all of them succeeded.
 */
import { readFileSync } from 'node:fs';
import { assetPath } from '../util/assets.js';
import type { InputsReport } from '../inputs/inspect.js';
import type { PackageEntry } from '../debian/packages-index.js';
import type { LoadedSite } from '../site/load.js';
import type { NodeView } from '../site/nodes.js';
import type { Finding } from '../contracts/finding.js';
import type { GeneratedFile } from '../contracts/generated-file.js';
import type { Manifest, ManifestIdentity } from '../contracts/manifest.js';
import { commitOutputs, discardOutputs, discardOutputsSync, stageOutput, type StagedOutput } from './output.js';
import type { BoardFacts } from '../site/board.js';
import { collectGarbage } from './memory.js';

export const OBSBUILD_VERSION = (
  JSON.parse(readFileSync(assetPath('package.json'), 'utf8')) as { version: string }
).version;

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
}

/** One step's view of the progress display. */
export interface StepProgress {
  /** Bytes (or items) done of total. */
  bytes(done: number, total: number): void;
  /** A short status text for the running step. */
  note(text: string): void;
  /** A message worth keeping (a lint warning, an input warning). */
  warn(text: string): void;
}

export interface Reporter {
  begin(label: string): StepProgress;
  succeed(label: string, detail?: string): void;
  fail(label: string, message: string): void;
}

export interface Step<S> {
  name: string;
  run(state: S, progress: StepProgress): Promise<void>;
}

/** A lint finding (the contract of src/lvs/lint.ts). */
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

/** What the build-wide steps find out, shared by every node. */
export interface BuildState {
  options: ImageOptions;
  loaded?: LoadedSite;
  board?: BoardFacts;
  findings?: Finding[];
  inputs?: InputsReport;
  epoch?: Epoch;
  packages?: ResolvedDeb[];
  /** Requested packages the base system already has. */
  alreadyInstalled?: string[];
  nodes?: NodeState[];
  warnings: string[];
}

export interface NodeState {
  build: BuildState;
  node: NodeView;
  staged: StagedOutput;
  /** Configuration that goes into the manifest id (rendered config, shadow, keys, debconf answers). */
  config?: GeneratedFile[];
  identity?: ManifestIdentity;
  manifestId?: string;
  /** Files generated once the id is known (first-boot script, its links, manifest-id). */
  idFiles?: GeneratedFile[];
  /** sha256 of output files already known, by path relative to the output folder. */
  knownSums: Map<string, string>;
  outputs: { path: string; size: number; sha256: string }[];
  manifest?: Manifest;
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

export async function runSteps<S>(steps: readonly Step<S>[], state: S, reporter: Reporter, prefix = ''): Promise<void> {
  for (const step of steps) {
    collectGarbage();
    const label = prefix + step.name;
    const progress = reporter.begin(label);
    try {
      await step.run(state, progress);
    } catch (err) {
      reporter.fail(label, (err as Error).message);
      throw err;
    }
    reporter.succeed(label);
  }
}

/**
 * The whole build. A failure anywhere removes every staged folder and leaves out/ as it was.
 */
export async function buildImages(
  options: ImageOptions,
  reporter: Reporter,
  recipe: { build: readonly Step<BuildState>[]; node: readonly Step<NodeState>[]; nodes: (s: BuildState) => NodeView[] },
): Promise<BuildState> {
  const state: BuildState = { options, warnings: [] };
  await runSteps(recipe.build, state, reporter);
  const staged: StagedOutput[] = [];
  // Ctrl-C while building: remove the staged folders (out/ keeps its previous state), then exit as usual.
  const onSignal = (signal: NodeJS.Signals) => {
    discardOutputsSync(staged);
    process.kill(process.pid, signal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    state.nodes = [];
    const views = recipe.nodes(state);
    for (const node of views) {
      const out = await stageOutput(options.outDir, node.hostname);
      staged.push(out);
      const nodeState: NodeState = { build: state, node, staged: out, knownSums: new Map(), outputs: [] };
      state.nodes.push(nodeState);
      await runSteps(recipe.node, nodeState, reporter, views.length > 1 ? `${node.hostname}: ` : '');
    }
    await commitOutputs(staged);
  } catch (err) {
    await discardOutputs(staged);
    throw err;
  } finally {
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
  }
  return state;
}

export function summarize(state: BuildState): ImageResult {
  return {
    outputs: (state.nodes ?? []).map((n) => ({
      hostname: n.node.hostname,
      role: n.node.role,
      dir: n.staged.finalDir,
      manifestId: n.manifestId ?? '',
      files: [...n.outputs].sort((a, b) => (a.path < b.path ? -1 : 1)),
    })),
    packages: (state.packages ?? []).map((p) => ({ name: p.entry.name, version: p.entry.version, architecture: p.entry.arch })),
    sourceDateEpoch: state.epoch?.value ?? 0,
    epochSource: state.epoch?.source ?? '',
    warnings: state.warnings,
  };
}
