/**
 * Debconf answers so that `dpkg --configure -a` on first boot never prompts. Lenny's ipvsadm asks three
 * questions from its config script (they write /etc/default/ipvsadm); the answers follow the site's manager:
 * keepalived owns the IPVS table, so ipvsadm must not load or flush rules at boot (AUTO=false); with the
 * ipvsadm manager the rules file is loaded at boot (AUTO=true). No sync daemon in either case.
 *
 * The first-boot script feeds the file to `debconf-set-selections` (which marks the questions as seen)
 * and runs dpkg with the environment in NONINTERACTIVE_ENV.
 */
import type { GeneratedFile } from '../contracts/generated-file.js';
import type { Site } from '../site/model.js';
import { DEBCONF_SELECTIONS_PATH } from '../contracts/box-paths.js';


/** Environment for `dpkg --configure -a` on the box: no prompts, even for questions not preseeded. */
export const NONINTERACTIVE_ENV: Readonly<Record<string, string>> = {
  DEBIAN_FRONTEND: 'noninteractive',
  DEBCONF_NONINTERACTIVE_SEEN: 'true',
  // ucf-managed config files the site replaced (chrony.conf) are kept, not asked about
  UCF_FORCE_CONFFOLD: '1',
};

export interface DebconfAnswer {
  owner: string;
  question: string;
  type: 'boolean' | 'select' | 'string' | 'note' | 'multiselect' | 'password';
  value: string;
}

/** The interface ipvsadm's (unused) sync daemon would bind to: the VRRP interface, else the first one. */
function syncInterface(site: Site): string {
  return site.lvs.vrrp?.interface ?? Object.keys(site.network.interfaces).sort()[0] ?? 'eth0';
}

export function debconfAnswers(site: Site): DebconfAnswer[] {
  return [
    { owner: 'ipvsadm', question: 'ipvsadm/auto_load_rules', type: 'boolean', value: site.lvs.manager === 'ipvsadm' ? 'true' : 'false' },
    { owner: 'ipvsadm', question: 'ipvsadm/daemon_method', type: 'select', value: 'none' },
    { owner: 'ipvsadm', question: 'ipvsadm/daemon_multicast_interface', type: 'string', value: syncInterface(site) },
  ];
}

/** debconf-set-selections format: `owner question type value`, one per line. */
export function formatSelections(answers: DebconfAnswer[]): string {
  const header = '# debconf answers written by obsbuild; fed to debconf-set-selections on first boot\n';
  return header + answers.map((a) => `${a.owner} ${a.question} ${a.type} ${a.value}\n`).join('');
}

export function debconfPreseedFile(site: Site): GeneratedFile {
  return { path: DEBCONF_SELECTIONS_PATH, content: formatSelections(debconfAnswers(site)), mode: 0o644, uid: 0, gid: 0 };
}
