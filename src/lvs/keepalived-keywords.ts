/**
 * The keyword tree of keepalived 1.1.15 (Debian lenny), from the install_keyword* calls in
 * global_parser.c, vrrp_parser.c, check_parser.c and check_{http,tcp,misc,smtp}.c at tag v1.1.15
 * (see docs/reference/keepalived-lenny.md §2), and a checker that reads a configuration the way the
 * 1.1.15 parser does. 1.1.15 ignores unknown keywords without a word, and an unknown block inside a block
 * closes the enclosing block, so anything outside this tree is a silent misconfiguration on the box.
 */

/** `leaf`: a one-line statement. `lines`: a block of free-form lines (addresses, names). Otherwise a sub-tree. */
export type KeywordSpec = 'leaf' | 'lines' | KeywordTree;
export interface KeywordTree {
  [keyword: string]: KeywordSpec;
}

const httpChecker: KeywordTree = {
  connect_port: 'leaf',
  bindto: 'leaf',
  connect_timeout: 'leaf',
  nb_get_retry: 'leaf',
  delay_before_retry: 'leaf',
  url: { path: 'leaf', digest: 'leaf', status_code: 'leaf' },
};

export const KEEPALIVED_1_1_15: KeywordTree = {
  global_defs: {
    router_id: 'leaf',
    plugin_dir: 'leaf',
    notification_email_from: 'leaf',
    smtp_server: 'leaf',
    smtp_connect_timeout: 'leaf',
    notification_email: 'lines',
  },
  static_ipaddress: 'lines',
  static_routes: 'lines',
  vrrp_script: { script: 'leaf', interval: 'leaf', weight: 'leaf' },
  vrrp_sync_group: {
    group: 'lines',
    notify_master: 'leaf',
    notify_backup: 'leaf',
    notify_fault: 'leaf',
    notify: 'leaf',
    smtp_alert: 'leaf',
  },
  vrrp_instance: {
    state: 'leaf',
    interface: 'leaf',
    dont_track_primary: 'leaf',
    track_interface: 'lines',
    track_script: 'lines',
    mcast_src_ip: 'leaf',
    virtual_router_id: 'leaf',
    priority: 'leaf',
    advert_int: 'leaf',
    virtual_ipaddress: 'lines',
    virtual_ipaddress_excluded: 'lines',
    virtual_routes: 'lines',
    preempt: 'leaf',
    nopreempt: 'leaf',
    preempt_delay: 'leaf',
    debug: 'leaf',
    notify_backup: 'leaf',
    notify_master: 'leaf',
    notify_fault: 'leaf',
    notify_stop: 'leaf',
    notify: 'leaf',
    smtp_alert: 'leaf',
    lvs_sync_daemon_interface: 'leaf',
    garp_master_delay: 'leaf',
    authentication: { auth_type: 'leaf', auth_pass: 'leaf' },
  },
  SSL: { password: 'leaf', ca: 'leaf', certificate: 'leaf', key: 'leaf' },
  virtual_server_group: 'lines',
  virtual_server: {
    delay_loop: 'leaf',
    lb_algo: 'leaf',
    lvs_sched: 'leaf',
    lb_kind: 'leaf',
    lvs_method: 'leaf',
    nat_mask: 'leaf',
    persistence_timeout: 'leaf',
    persistence_granularity: 'leaf',
    protocol: 'leaf',
    ha_suspend: 'leaf',
    virtualhost: 'leaf',
    sorry_server: 'leaf',
    real_server: {
      weight: 'leaf',
      uthreshold: 'leaf',
      lthreshold: 'leaf',
      inhibit_on_failure: 'leaf',
      notify_up: 'leaf',
      notify_down: 'leaf',
      HTTP_GET: httpChecker,
      SSL_GET: httpChecker,
      TCP_CHECK: { connect_port: 'leaf', bindto: 'leaf', connect_timeout: 'leaf' },
      MISC_CHECK: { misc_path: 'leaf', misc_timeout: 'leaf', misc_dynamic: 'leaf' },
      SMTP_CHECK: {
        helo_name: 'leaf',
        connect_timeout: 'leaf',
        delay_before_retry: 'leaf',
        retry: 'leaf',
        host: { connect_ip: 'leaf', connect_port: 'leaf', bindto: 'leaf' },
      },
    },
  },
};

/** Lines longer than this are cut by the 1.1.15 reader (MAXBUF). */
export const LENNY_MAX_LINE = 1024;

export interface KeywordProblem {
  line: number;
  message: string;
}

/** 1.1.15 tokenisation: whitespace-separated, `#` or `!` at a token boundary starts a comment. */
function tokens(line: string): string[] {
  const out: string[] = [];
  for (const t of line.trim().split(/\s+/)) {
    if (t === '' ) continue;
    if (t.startsWith('#') || t.startsWith('!')) break;
    out.push(t);
  }
  return out;
}

/**
 * Reads `text` as keepalived 1.1.15 would and returns every statement it would not understand: unknown
 * keywords (which it would drop silently), blocks it does not know, statements written on the same line
 * as `{` or `}`, lines over 1024 bytes, and unbalanced braces.
 */
export function checkLennyKeywords(text: string, tree: KeywordTree = KEEPALIVED_1_1_15): KeywordProblem[] {
  const problems: KeywordProblem[] = [];
  // Each level: the keywords it accepts (or 'lines' for a free-form block) and where it was opened.
  const stack: { spec: KeywordTree | 'lines'; name: string; line: number }[] = [{ spec: tree, name: 'top level', line: 0 }];
  text.split('\n').forEach((raw, i) => {
    const lineNo = i + 1;
    if (Buffer.byteLength(raw) > LENNY_MAX_LINE) {
      problems.push({ line: lineNo, message: `line is longer than ${LENNY_MAX_LINE} bytes; 1.1.15 cuts it` });
    }
    const t = tokens(raw);
    if (t.length === 0) return;
    const level = stack[stack.length - 1];
    if (t[0] === '}') {
      if (t.length > 1) problems.push({ line: lineNo, message: `"${t.slice(1).join(' ')}" after "}" is ignored by 1.1.15` });
      if (stack.length === 1) problems.push({ line: lineNo, message: 'unbalanced "}"' });
      else stack.pop();
      return;
    }
    const opens = t[t.length - 1] === '{';
    if (t.includes('}')) problems.push({ line: lineNo, message: '"}" must be alone on its line for 1.1.15' });
    if (t.includes('{') && t.indexOf('{') !== t.length - 1) problems.push({ line: lineNo, message: 'statements after "{" on the same line are lost on 1.1.15' });
    if (level.spec === 'lines') {
      if (opens) problems.push({ line: lineNo, message: `a block inside ${level.name} is not understood by 1.1.15` });
      return;
    }
    const keyword = t[0];
    const spec = Object.hasOwn(level.spec, keyword) ? level.spec[keyword] : undefined;
    if (spec === undefined) {
      problems.push({
        line: lineNo,
        message: `${opens ? 'block' : 'keyword'} "${keyword}" is not a keepalived 1.1.15 keyword in ${level.name}${opens ? ' (its "}" would close the enclosing block)' : ' (silently ignored)'}`,
      });
      if (opens) stack.push({ spec: 'lines', name: keyword, line: lineNo });
      return;
    }
    if (spec === 'leaf') {
      // No level is entered, so this block's "}" will close the enclosing block instead.
      if (opens) problems.push({ line: lineNo, message: `"${keyword}" is a one-line statement in 1.1.15, not a block` });
      return;
    }
    // 1.1.15 enters a block keyword's level whether or not "{" is there (it never checks "{").
    if (!opens && !t.includes('{')) problems.push({ line: lineNo, message: `"${keyword}" opens a block: end the line with "{"` });
    stack.push({ spec, name: keyword, line: lineNo });
  });
  for (const open of stack.slice(1)) problems.push({ line: open.line, message: `block "${open.name}" is never closed` });
  return problems;
}
