import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { copyVerbatim } from '../output.js';
import type { NodeState, Step } from '../pipeline.js';

/**
 * Plat'Home's three files into stick/msf/, byte for byte (a reflink where the filesystem allows). Their
 * sha256 is already known from the input checks; SHA256SUMS reuses it.
 */
export const copyInputsStep: Step<NodeState> = {
  name: "copy Plat'Home files",
  async run(ns, progress) {
    const build = ns.build;
    const folder = build.board!.stickFolder;
    const msf = join(ns.staged.workDir, 'stick', folder);
    await mkdir(msf, { recursive: true });
    const files = build.inputs!.files;
    const all = [files.rootfs, files.uimage, files.kernTgz];
    const total = all.reduce((n, f) => n + f.size, 0);
    let done = 0;
    for (const f of all) {
      await copyVerbatim(f.path, join(msf, f.name), build.epoch!.value);
      done += f.size;
      progress.bytes(done, total);
      const rel = `stick/${folder}/${f.name}`;
      ns.knownSums.set(rel, f.sha256);
      ns.outputs.push({ path: rel, size: f.size, sha256: f.sha256 });
    }
  },
};
