/**
 * /etc/keepalived/keepalived.conf in two dialects from one model:
 * - `lenny`: keepalived 1.1.15, what the box runs. One statement per line, `}` alone, whole seconds,
 *   `nb_get_retry`, nothing outside the 1.1.15 keyword tree (src/lvs/keepalived-keywords.ts).
 * - `modern`: keepalived 2.x, for `keepalived -t`: `retry` instead of `nb_get_retry`, and script security
 *   settings when notify scripts are used.
 */
import type { Dialect, HealthCheck, Site, VirtualServer } from '../site/model.js';
import type { NodeView } from '../site/nodes.js';
import { planVirtualAddresses } from './addresses.js';
import { NOTIFY_SCRIPT_PATH } from '../contracts/box-paths.js';
import { keepalivedToken } from '../site/grammar/keepalived-token.js';

export const VRRP_INSTANCE_NAME = 'VI_1';

/** A word of a statement: strings may come from the site and are checked; numbers cannot break a line. */
type Word = string | number;

function words(list: Word[]): string {
  return list.map((w, i) => (typeof w === 'number' ? String(w) : keepalivedToken(w, i === 0 ? 'a keyword' : `the ${list[0]} value`))).join(' ');
}

/**
 * Collects indented lines; `block` keeps braces on lines of their own as 1.1.15 requires. Statements
 * go through `stmt` and `block`, which refuse any word that would reshape the file; `line` is for text
 * obsbuild writes itself.
 */
class ConfWriter {
  private readonly lines: string[] = [];
  private depth = 0;
  line(text: string): void {
    this.lines.push(text === '' ? '' : '    '.repeat(this.depth) + text);
  }
  stmt(...list: Word[]): void {
    this.line(words(list));
  }
  block(head: Word[], body: () => void): void {
    this.line(`${words(head)} {`);
    this.depth++;
    body();
    this.depth--;
    this.line('}');
  }
  toString(): string {
    return this.lines.join('\n') + '\n';
  }
}

export function renderKeepalivedConf(site: Site, node: NodeView, dialect: Dialect): string {
  const w = new ConfWriter();
  const vrrp = site.lvs.vrrp;
  const notify = Boolean(vrrp?.notify);
  w.line(`# keepalived.conf for ${keepalivedToken(node.hostname, 'the host name')}, written by obsbuild (dialect: ${dialect === 'lenny' ? 'lenny, keepalived 1.1.15' : 'modern, keepalived 2.x'}).`);
  w.line('# Change obsbuild.yaml and render again rather than editing this file.');
  w.line('');
  w.block(['global_defs'], () => {
    w.stmt('router_id', node.hostname);
    if (dialect === 'modern' && notify) {
      // 2.x refuses to run scripts without these (`-t` exits 6); 1.1.15 has neither and needs neither.
      w.line('script_user root');
      w.line('enable_script_security');
    }
  });
  if (vrrp && node.role !== 'single') {
    const me = vrrp.nodes[node.role];
    w.line('');
    w.block(['vrrp_instance', VRRP_INSTANCE_NAME], () => {
      w.stmt('state', me.state ?? (node.role === 'master' && !vrrp.nopreempt ? 'MASTER' : 'BACKUP'));
      w.stmt('interface', vrrp.interface);
      w.stmt('virtual_router_id', vrrp.virtual_router_id);
      w.stmt('priority', me.priority);
      w.stmt('advert_int', vrrp.advert_int);
      if (vrrp.nopreempt) w.stmt('nopreempt');
      w.block(['authentication'], () => {
        w.stmt('auth_type', 'PASS');
        w.stmt('auth_pass', vrrp.auth_pass);
      });
      w.block(['virtual_ipaddress'], () => {
        for (const vip of planVirtualAddresses(site, node.interfaces)) {
          w.stmt(`${vip.address}/${vip.prefix}`, 'dev', vip.dev, 'label', vip.label);
        }
      });
      if (notify) {
        for (const state of ['master', 'backup', 'fault'] as const) {
          w.line(`notify_${state} "${NOTIFY_SCRIPT_PATH} ${state}"`);
        }
      }
    });
  }
  for (const vs of site.lvs.virtual_servers) {
    w.line('');
    renderVirtualServer(w, vs, dialect);
  }
  return w.toString();
}

const LB_KIND = { nat: 'NAT', dr: 'DR', tun: 'TUN' } as const;

function renderVirtualServer(w: ConfWriter, vs: VirtualServer, dialect: Dialect): void {
  w.line(`# ${keepalivedToken(vs.name, 'the virtual server name')}`);
  w.block(['virtual_server', vs.address, vs.port], () => {
    w.stmt('delay_loop', vs.delay_loop);
    w.stmt('lb_algo', vs.scheduler);
    w.stmt('lb_kind', LB_KIND[vs.forwarding]);
    if (vs.persistence_timeout > 0) w.stmt('persistence_timeout', vs.persistence_timeout);
    w.stmt('protocol', vs.protocol.toUpperCase());
    if (vs.sorry_server) w.stmt('sorry_server', vs.sorry_server.address, vs.sorry_server.port);
    for (const rs of vs.real_servers) {
      w.block(['real_server', rs.address, rs.port], () => {
        w.stmt('weight', rs.weight);
        renderCheck(w, vs.check, dialect);
      });
    }
  });
}

function renderCheck(w: ConfWriter, check: HealthCheck, dialect: Dialect): void {
  switch (check.type) {
    case 'none':
      return;
    case 'tcp':
      // 1.1.15's TCP_CHECK has no retry keywords: only the port and the timeout.
      w.block(['TCP_CHECK'], () => {
        if (check.connect_port !== undefined) w.stmt('connect_port', check.connect_port);
        w.stmt('connect_timeout', check.connect_timeout);
      });
      return;
    case 'http':
      w.block(['HTTP_GET'], () => {
        w.block(['url'], () => {
          w.stmt('path', check.path);
          // Without status_code 1.1.15 accepts any HTTP response as healthy.
          w.stmt('status_code', check.status);
        });
        if (check.connect_port !== undefined) w.stmt('connect_port', check.connect_port);
        w.stmt('connect_timeout', check.connect_timeout);
        // The one keyword the dialects disagree on: 2.x rejects nb_get_retry (`-t` exits 5).
        w.stmt(dialect === 'lenny' ? 'nb_get_retry' : 'retry', check.retries);
        w.stmt('delay_before_retry', check.retry_delay);
      });
      return;
  }
}
