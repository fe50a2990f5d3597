/**
 * Remote syslog from the site's `syslog:`, for the syslog daemon the base system runs: rsyslog gets a file of
 * its own under /etc/rsyslog.d; sysklogd has one file, so its forwarding block is added to the base system's
 * /etc/syslog.conf between marker lines (a block already there is replaced, so rendering is idempotent and
 * day two, which starts from the box's file, gives the same bytes as the build).
 */
import type { Site } from '../site/model.js';
import { forwardRule, SYSKLOGD_PORT, type SyslogDaemon } from '../site/services.js';
import { checkedHosts } from './ntp.js';

export const SYSLOG_BLOCK_BEGIN = '# BEGIN obsbuild: forward to the site\'s log hosts (syslog: in the site file; obsbuild apply rewrites this block)';
export const SYSLOG_BLOCK_END = '# END obsbuild';

type SyslogSetting = NonNullable<Site['syslog']>;

/** The selector reaches a config line as is: the schema's shape, checked again here. */
function checkedSelector(selector: string): string {
  if (!/^[a-z0-9*]+(,[a-z0-9*]+)*\.[a-z*!=]+(;[a-z0-9*]+(,[a-z0-9*]+)*\.[a-z*!=]+)*$/.test(selector) || selector.length > 200) {
    throw new Error(`syslog.selector: ${JSON.stringify(selector.slice(0, 80))} is not a syslog selector`);
  }
  return selector;
}

function rules(daemon: SyslogDaemon, s: SyslogSetting): string {
  const selector = checkedSelector(s.selector);
  return checkedHosts(s.servers, 'syslog.servers').map((h) => `${forwardRule(daemon, selector, h, s.port)}\n`).join('');
}

/** /etc/rsyslog.d/obsbuild-remote.conf (rsyslog's legacy syntax, which lenny's 3.18 and bookworm's 8.x both read). */
export function renderRsyslogForward(s: SyslogSetting): string {
  return `# Written by obsbuild from the site file (syslog:): forward over UDP to the site's log hosts.\n${rules('rsyslog', s)}`;
}

/** The base system's syslog.conf with obsbuild's block (replacing one already there) at the end. */
export function renderSysklogdConf(base: string, s: SyslogSetting): string {
  if (s.port !== SYSKLOGD_PORT) throw new Error(`sysklogd sends only to port ${SYSKLOGD_PORT}`);
  const kept = withoutObsbuildBlock(base);
  const sep = kept === '' || kept.endsWith('\n') ? '' : '\n';
  return `${kept}${sep}${SYSLOG_BLOCK_BEGIN}\n${rules('sysklogd', s)}${SYSLOG_BLOCK_END}\n`;
}

/**
 * The text without obsbuild's complete BEGIN..END blocks. A BEGIN line without its END (hand-edited) is kept
 * as the operator's text, with what follows it, rather than taking their lines away.
 */
export function withoutObsbuildBlock(text: string): string {
  const out: string[] = [];
  let pending: string[] | null = null;
  const lines = text.split('\n');
  const last = lines.pop(); // '' when the text ends with a newline
  for (const line of lines) {
    if (line === SYSLOG_BLOCK_BEGIN) {
      if (pending) out.push(...pending);
      pending = [line];
    } else if (line === SYSLOG_BLOCK_END && pending) {
      pending = null;
    } else if (pending) {
      pending.push(line);
    } else {
      out.push(line);
    }
  }
  if (pending) out.push(...pending);
  const body = out.length ? `${out.join('\n')}\n` : '';
  return last ? `${body}${last}` : body;
}
