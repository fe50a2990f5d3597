import { join } from 'node:path';
import { UserError } from '../../util/errors.js';
import { mergeFiles } from '../../contracts/generated-file.js';
import { writeOverlay } from '../overlay.js';
import { isMultiarchDb } from '../../debian/dpkg-db.js';
import type { NodeState, Step } from '../pipeline.js';
import { OVERLAY_NAME } from '../../contracts/box-paths.js';


/** stick/msf/obsbuild-overlay.tgz: packages, dpkg registration, configuration, first-boot script. */
export const overlayStep: Step<NodeState> = {
  name: 'overlay',
  async run(ns, progress) {
    const build = ns.build;
    const msf = join(ns.staged.workDir, 'stick', build.board!.stickFolder);
    const rel = `stick/${build.board!.stickFolder}/${OVERLAY_NAME}`;
    const result = await writeOverlay(join(msf, OVERLAY_NAME), {
      packages: (build.packages ?? []).map(({ entry, debPath }) => ({ debPath, entry })),
      baseStatus: build.inputs!.rootfs.files.dpkgStatus ?? '',
      multiarchDb: isMultiarchDb(build.inputs!.rootfs.files.dpkgDbFormat),
      files: mergeFiles(ns.config!, ns.idFiles!),
      mtime: build.epoch!.value,
      stagingParent: ns.staged.workDir,
      onProgress: (line) => progress.note(line),
    });
    // The .deb bytes as read: the manifest records what was really layered in.
    const byName = new Map(result.packages.map((p) => [`${p.name}\0${p.version}`, p.sha256]));
    for (const p of ns.identity!.packages) {
      const actual = byName.get(`${p.name}\0${p.version}`);
      if (actual && p.sha256 !== actual) throw new UserError(`${p.filename}: the file changed while the build was reading it`, { code: 'package-invalid' });
    }
    for (const w of result.warnings) {
      if (build.warnings.includes(w)) continue; // every node layers the same packages
      build.warnings.push(w);
      progress.warn(w);
    }
    progress.note(`${result.entries} entries, ${result.packages.length} packages, ${result.bytes} bytes`);
    ns.knownSums.set(rel, result.sha256);
    ns.outputs.push({ path: rel, size: result.bytes, sha256: result.sha256 });
  },
};
