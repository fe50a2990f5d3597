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

export const VRRP_INSTANCE_NAME = 'VI_1';

/** Collects indented lines; `open`/`close` keep braces on lines of their own as 1.1.15 requires. */
class ConfWriter {
  private readonly lines: string[] = [];
  private depth = 0;
  line(text: string): void {
    this.lines.push(text === '' ? '' : '    '.repeat(this.depth) + text);
  }
  open(head: string): void {
    this.line(`${head} {`);
    this.depth++;
  }
  close(): void {
    this.depth--;
    this.line('}');
  }
  block(head: string, body: () => void): void {
    this.open(head);
    body();
    this.close();
  }
  toString(): string {
    return this.lines.join('\n') + '\n';
  }
}

export function renderKeepalivedConf(site: Site, node: NodeView, dialect: Dialect): string {
  const w = new ConfWriter();
  const vrrp = site.lvs.vrrp;
  const notify = Boolean(vrrp?.notify);
  w.line(`# keepalived.conf for ${node.hostname}, written by obsbuild (dialect: ${dialect === 'lenny' ? 'lenny, keepalived 1.1.15' : 'modern, keepalived 2.x'}).`);
  w.line('# Change obsbuild.yaml and render again rather than editing this file.');
  w.line('');
  w.block('global_defs', () => {
    w.line(`router_id ${node.hostname}`);
    if (dialect === 'modern' && notify) {
      // 2.x refuses to run scripts without these (`-t` exits 6); 1.1.15 has neither and needs neither.
      w.line('script_user root');
      w.line('enable_script_security');
    }
  });
  if (vrrp && node.role !== 'single') {
    const me = vrrp.nodes[node.role];
    w.line('');
    w.block(`vrrp_instance ${VRRP_INSTANCE_NAME}`, () => {
      w.line(`state ${me.state ?? (node.role === 'master' && !vrrp.nopreempt ? 'MASTER' : 'BACKUP')}`);
      w.line(`interface ${vrrp.interface}`);
      w.line(`virtual_router_id ${vrrp.virtual_router_id}`);
      w.line(`priority ${me.priority}`);
      w.line(`advert_int ${vrrp.advert_int}`);
      if (vrrp.nopreempt) w.line('nopreempt');
      w.block('authentication', () => {
        w.line('auth_type PASS');
        w.line(`auth_pass ${vrrp.auth_pass}`);
      });
      w.block('virtual_ipaddress', () => {
        for (const vip of planVirtualAddresses(site, node.interfaces)) {
          w.line(`${vip.address}/${vip.prefix} dev ${vip.dev} label ${vip.label}`);
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
  w.line(`# ${vs.name}`);
  w.block(`virtual_server ${vs.address} ${vs.port}`, () => {
    w.line(`delay_loop ${vs.delay_loop}`);
    w.line(`lb_algo ${vs.scheduler}`);
    w.line(`lb_kind ${LB_KIND[vs.forwarding]}`);
    if (vs.persistence_timeout > 0) w.line(`persistence_timeout ${vs.persistence_timeout}`);
    w.line(`protocol ${vs.protocol.toUpperCase()}`);
    if (vs.sorry_server) w.line(`sorry_server ${vs.sorry_server.address} ${vs.sorry_server.port}`);
    for (const rs of vs.real_servers) {
      w.block(`real_server ${rs.address} ${rs.port}`, () => {
        w.line(`weight ${rs.weight}`);
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
      w.block('TCP_CHECK', () => {
        if (check.connect_port !== undefined) w.line(`connect_port ${check.connect_port}`);
        w.line(`connect_timeout ${check.connect_timeout}`);
      });
      return;
    case 'http':
      w.block('HTTP_GET', () => {
        w.block('url', () => {
          w.line(`path ${check.path}`);
          // Without status_code 1.1.15 accepts any HTTP response as healthy.
          w.line(`status_code ${check.status}`);
        });
        if (check.connect_port !== undefined) w.line(`connect_port ${check.connect_port}`);
        w.line(`connect_timeout ${check.connect_timeout}`);
        // The one keyword the dialects disagree on: 2.x rejects nb_get_retry (`-t` exits 5).
        w.line(`${dialect === 'lenny' ? 'nb_get_retry' : 'retry'} ${check.retries}`);
        w.line(`delay_before_retry ${check.retry_delay}`);
      });
      return;
  }
}
