import type { Manager } from '../site/model.js';
import { dirEntry, symlinkEntry, type GeneratedFile } from '../contracts/generated-file.js';
import { DEBCONF_SELECTIONS_PATH, FIRSTBOOT_NAME, FIRSTBOOT_PATH, MANIFEST_ID_PATH, OBSBUILD_ETC_DIR } from '../contracts/box-paths.js';
import { FIRSTBOOT_STEP_COUNT, FIRSTBOOT_TAG } from '../contracts/markers.js';
import { renderTemplate } from './template.js';

/**
 * The one-shot first-boot script (sysvinit, LSB header), its rc links and the manifest id file. The
 * debconf answers it loads come from src/debian/debconf.ts. The script's text is obsbuild-firstboot.tmpl
 * beside this module; this module only fills in its placeholders.
 */

export interface FirstbootParams {
  manifestId: string;
  manager: Manager;
  obsbuildVersion: string;
  /** sysvinit runlevels that get an S99 link (the board's default: 2 3 4 5). */
  runlevels: readonly number[];
}

export function renderFirstbootScript(p: FirstbootParams): string {
  if (!/^[0-9a-f]+$/.test(p.manifestId)) throw new Error(`manifest id must be hex: ${p.manifestId}`);
  const values: Record<string, string> = {
    MANIFEST_ID: p.manifestId,
    MANAGER: p.manager,
    OBSBUILD_VERSION: p.obsbuildVersion,
    PRESEED: DEBCONF_SELECTIONS_PATH,
    MANIFEST_ID_PATH,
    FIRSTBOOT_NAME,
    TAG: FIRSTBOOT_TAG,
    STEPS: String(FIRSTBOOT_STEP_COUNT),
  };
  return renderTemplate('obsbuild-firstboot.tmpl', values);
}

/** The script, its S99 links (removed by the script itself after success) and the manifest id file. */
export function firstbootFiles(p: FirstbootParams): GeneratedFile[] {
  const files: GeneratedFile[] = [
    { path: FIRSTBOOT_PATH, content: renderFirstbootScript(p), mode: 0o755, uid: 0, gid: 0 },
    dirEntry(OBSBUILD_ETC_DIR),
    { path: MANIFEST_ID_PATH, content: `${p.manifestId}\n`, mode: 0o644, uid: 0, gid: 0 },
  ];
  for (const level of p.runlevels) {
    files.push(symlinkEntry(`/etc/rc${level}.d/S99${FIRSTBOOT_NAME}`, `../init.d/${FIRSTBOOT_NAME}`));
  }
  return files;
}
