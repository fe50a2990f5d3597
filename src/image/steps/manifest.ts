import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { sha256Hex } from '../../util/hash.js';
import { buildManifest, formatManifest } from '../manifest.js';
import type { NodeState, Step } from '../pipeline.js';

export const MANIFEST_NAME = 'manifest.json';

/** manifest.json: inputs, packages, generated files, outputs, and the id written to the box. */
export const manifestStep: Step<NodeState> = {
  name: 'manifest',
  async run(ns) {
    ns.manifest = buildManifest(ns.identity!, ns.idFiles!, ns.outputs);
    if (ns.manifest.id !== ns.manifestId) throw new Error('manifest id changed after the overlay was written');
    const text = formatManifest(ns.manifest);
    await writeFile(join(ns.staged.workDir, MANIFEST_NAME), text, { mode: 0o644 });
    ns.knownSums.set(MANIFEST_NAME, sha256Hex(text));
  },
};
