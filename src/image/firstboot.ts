import { readFileSync } from 'node:fs';
import { assetPath } from '../util/assets.js';
import type { Manager } from '../site/model.js';
import { dirEntry, symlinkEntry, type GeneratedFile } from '../contracts/generated-file.js';
import { DEBCONF_SELECTIONS_PATH, FIRSTBOOT_NAME, FIRSTBOOT_PATH, MANIFEST_ID_PATH } from '../contracts/box-paths.js';

/**
 * The one-shot first-boot script (sysvinit, LSB header), its rc links and the manifest id file. The
 * debconf answers it loads come from src/debian/debconf.ts. The script's text lives in overlays/etc/init.d/obsbuild-firstboot;
 * this module only fills in its placeholders.
 */


const TEMPLATE = 'overlays/etc/init.d/obsbuild-firstboot';

export interface FirstbootParams {
  manifestId: string;
  manager: Manager;
  obsbuildVersion: string;
  /** sysvinit runlevels that get an S99 link (the board's default: 2 3 4 5). */
  runlevels: readonly number[];
}

export function firstbootTemplate(): string {
  return readFileSync(assetPath(TEMPLATE), 'utf8');
}

export function renderFirstbootScript(p: FirstbootParams): string {
  if (!/^[0-9a-f]+$/.test(p.manifestId)) throw new Error(`manifest id must be hex: ${p.manifestId}`);
  const values: Record<string, string> = {
    MANIFEST_ID: p.manifestId,
    MANAGER: p.manager,
    OBSBUILD_VERSION: p.obsbuildVersion,
    PRESEED: DEBCONF_SELECTIONS_PATH,
  };
  return firstbootTemplate().replace(/@([A-Z_]+)@/g, (whole, key: string) => values[key] ?? whole);
}

/** The script, its S99 links (removed by the script itself after success) and the manifest id file. */
export function firstbootFiles(p: FirstbootParams): GeneratedFile[] {
  const files: GeneratedFile[] = [
    { path: FIRSTBOOT_PATH, content: renderFirstbootScript(p), mode: 0o755, uid: 0, gid: 0 },
    dirEntry('/etc/obsbuild'),
    { path: MANIFEST_ID_PATH, content: `${p.manifestId}\n`, mode: 0o644, uid: 0, gid: 0 },
  ];
  for (const level of p.runlevels) {
    files.push(symlinkEntry(`/etc/rc${level}.d/S99${FIRSTBOOT_NAME}`, `../init.d/${FIRSTBOOT_NAME}`));
  }
  return files;
}
