/**
 * The VRRP notify script keepalived runs on master/backup/fault transitions. It logs the transition to
 * syslog and records the state in /var/run so a person (or `obsbuild console`) can see which node holds
 * the virtual addresses.
 */
import type { GeneratedFile } from '../contracts/generated-file.js';
import { NOTIFY_SCRIPT_PATH } from '../contracts/box-paths.js';
import { hostName } from '../site/grammar/hosts.js';
import { shellWord } from '../site/grammar/shell-word.js';

export const NOTIFY_STATE_FILE = '/var/run/keepalived.state';

export function renderNotifyScript(host: string, vrrpInstance: string): GeneratedFile {
  // Both land inside the script, one of them in a double-quoted string.
  const hostname = shellWord(NOTIFY_SCRIPT_PATH, hostName(NOTIFY_SCRIPT_PATH, host), 'the host name');
  const instance = shellWord(NOTIFY_SCRIPT_PATH, vrrpInstance, 'the VRRP instance name');
  const content = `#!/bin/sh
# keepalived VRRP transition hook for ${hostname}, written by obsbuild.
# keepalived runs it as: ${NOTIFY_SCRIPT_PATH} master|backup|fault
state="$1"
case "$state" in
    master|backup|fault) ;;
    *) echo "usage: $0 master|backup|fault" >&2; exit 2 ;;
esac
echo "$state" > ${NOTIFY_STATE_FILE}
logger -t keepalived-notify "${instance} on ${hostname} is now $state"
exit 0
`;
  return { path: NOTIFY_SCRIPT_PATH, content, mode: 0o755 };
}
