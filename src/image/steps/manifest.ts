import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { GeneratedFile } from '../../contracts/generated-file.js';
import type { Manifest, ManifestIdentity } from '../../contracts/manifest.js';
import { sha256Hex } from '../../util/hash.js';
import { buildManifest, formatManifest } from '../manifest.js';
import type { OutputLedger, StagedOutput } from '../output.js';
import type { Step } from '../recipe.js';

export const MANIFEST_NAME = 'manifest.json';

interface Needs {
  identity: ManifestIdentity;
  manifestId: string;
  idFiles: GeneratedFile[];
  staged: StagedOutput;
  ledger: OutputLedger;
}

/** manifest.json: inputs, packages, generated files, outputs, and the id written to the box. */
export const manifestStep: Step<Needs, { manifest: Manifest }> = {
  name: 'manifest',
  async run({ identity, manifestId, idFiles, staged, ledger }) {
    const manifest = buildManifest(identity, idFiles, ledger.files);
    if (manifest.id !== manifestId) throw new Error('manifest id changed after the overlay was written');
    const text = formatManifest(manifest);
    await writeFile(join(staged.workDir, MANIFEST_NAME), text, { mode: 0o644 });
    ledger.know(MANIFEST_NAME, sha256Hex(text));
    return { manifest };
  },
};
