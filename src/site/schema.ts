/**
 * The site file's schema: every key, its type, its default. Messages say what is wrong and what to write
 * instead; src/site/load.ts prefixes them with `file:line: key.path`.
 */
import { z } from 'zod';
import { knownBoards } from './board.js';
import { closest } from './suggest.js';
import { isIpv4, isNetworkOrBroadcast, parseCidr } from './ipv4.js';
import { HOST_NAME } from './grammar/hosts.js';
import { cutsKeepalivedWord } from './grammar/keepalived-token.js';
import { firstRefused, isWhitespace } from './grammar/value.js';

/** A closed object: unknown keys are errors with a "did you mean" taken from the object's own keys. */
export function strict<T extends z.core.$ZodLooseShape>(shape: T) {
  const known = Object.keys(shape);
  return z.strictObject(shape, {
    error: (issue) => {
      if (issue.code !== 'unrecognized_keys') return undefined;
      const key = issue.keys[0];
      const guess = closest(key, known);
      const more = issue.keys.length > 1 ? ` (and ${issue.keys.slice(1).map((k) => `"${k}"`).join(', ')})` : '';
      return `unknown key "${key}"${more}${guess ? `: did you mean "${guess}"?` : `; known keys: ${known.join(', ')}`}`;
    },
  });
}

/**
 * A list whose length is checked before its items: zod validates every item and gathers every issue
 * first, so 200,000 items cost seconds and overflowed the stack. The caps are far above any real site.
 */
function list<T extends z.ZodType>(item: T, max: number, what: string, min?: { count: number; message: string }) {
  const items = min ? z.array(item).min(min.count, min.message) : z.array(item);
  return z
    .array(z.unknown())
    .superRefine((a, ctx) => {
      if (a.length > max) ctx.addIssue({ code: 'custom', message: `lists ${a.length} ${what}; at most ${max} make sense` });
    })
    .pipe(items);
}

/** A mapping whose size is checked before its entries, for the same reason. */
function mapping<K extends z.core.$ZodRecordKey, V extends z.ZodType>(key: K, value: V, max: number, what: string) {
  return z
    .record(z.string(), z.unknown())
    .superRefine((m, ctx) => {
      const n = Object.keys(m).length;
      if (n > max) ctx.addIssue({ code: 'custom', message: `has ${n} ${what}; at most ${max} make sense` });
    })
    .pipe(z.record(key, value));
}

const int = (what: string) => z.number({ error: `must be a number (${what})` }).int(`must be a whole number (${what})`);

const ipv4 = z
  .string({ error: 'must be an IPv4 address such as 192.168.253.120' })
  .refine(isIpv4, { error: (iss) => `"${String(iss.input)}" is not an IPv4 address (dotted quad such as 192.168.253.120; keepalived 1.1.15 reads no hostnames or IPv6)` });

const cidr = z
  .string({ error: 'must be an address with prefix such as 192.168.253.254/24' })
  .superRefine((text, ctx) => {
    if (!text.includes('/')) {
      ctx.addIssue({ code: 'custom', message: `"${text}" has no prefix: write it as ${isIpv4(text) ? text : 'a.b.c.d'}/24 (or the subnet's real prefix)` });
      return;
    }
    const parsed = parseCidr(text);
    if (!parsed) {
      const [addr, prefix] = text.split('/');
      const problem = !isIpv4(addr) ? `"${addr}" is not an IPv4 address` : `prefix "/${prefix}" is not a number from 0 to 32`;
      ctx.addIssue({ code: 'custom', message: `"${text}": ${problem}` });
      return;
    }
    if (parsed.prefix === 0 || parsed.prefix === 32) {
      ctx.addIssue({ code: 'custom', message: `"${text}": an interface needs a prefix from 1 to 31 (the size of its subnet, e.g. /24)` });
    } else if (isNetworkOrBroadcast(parsed)) {
      ctx.addIssue({ code: 'custom', message: `"${text}" is the network or broadcast address of its subnet; use a host address` });
    }
  });

const port = int('a TCP/UDP port').min(1, 'must be a port from 1 to 65535').max(65535, 'must be a port from 1 to 65535');
const seconds = (what: string) =>
  z
    .number({ error: `must be a number of seconds (${what})` })
    .int(`must be whole seconds (${what}): keepalived 1.1.15 reads timers with atoi(), so 1.5 would become 1`)
    .min(1, `must be at least 1 second (${what})`);

const interfaceName = z
  .string()
  .regex(/^[a-z][a-z0-9]{0,9}$/, 'interface names are like eth0 or eth1 (aliases such as eth0:120 are made for you)');

const interfaceConfig = strict({ address: cidr });
const interfaces = mapping(interfaceName, interfaceConfig, 32, 'interfaces');

const httpCheck = strict({
  type: z.literal('http'),
  path: z
    .string()
    .refine((p) => p.startsWith('/') && firstRefused(p, (ch) => !isWhitespace(ch)) === undefined, 'must be a URL path starting with / and without spaces, e.g. /index.html')
    .default('/'),
  status: int('an HTTP status code').min(100, 'must be an HTTP status code (100-599)').max(599, 'must be an HTTP status code (100-599)').default(200),
  connect_timeout: seconds('check.connect_timeout').default(3),
  retries: int('how many attempts').min(1, 'must be at least 1').default(3),
  retry_delay: seconds('check.retry_delay').default(2),
  connect_port: port.optional(),
});
const tcpCheck = strict({
  type: z.literal('tcp'),
  connect_timeout: seconds('check.connect_timeout').default(3),
  connect_port: port.optional(),
});
const noCheck = strict({ type: z.literal('none') });
const check = z.discriminatedUnion('type', [httpCheck, tcpCheck, noCheck], {
  error: 'must be http, tcp or none',
});

const realServer = strict({
  address: ipv4,
  port,
  weight: int('weight').min(0, 'must be from 0 (drained) to 65535').max(65535, 'must be from 0 (drained) to 65535').default(1),
});

const virtualServer = strict({
  name: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, 'must be a short name of letters, digits, "_", "." or "-"')
    .optional(),
  address: ipv4,
  port,
  protocol: z.enum(['tcp', 'udp'], { error: 'must be tcp or udp' }).default('tcp'),
  forwarding: z.enum(['nat', 'dr', 'tun'], { error: 'must be nat, dr or tun' }).default('nat'),
  scheduler: z
    .enum(['rr', 'wrr', 'lc', 'wlc', 'lblc', 'lblcr', 'dh', 'sh', 'sed', 'nq'], {
      error: 'must be one of rr wrr lc wlc lblc lblcr dh sh sed nq (the schedulers of the lenny kernel)',
    })
    .default('wlc'),
  persistence_timeout: int('seconds, 0 for none').min(0, 'must be 0 (no persistence) or more seconds').default(0),
  delay_loop: seconds('delay_loop').default(6),
  check: check.prefault({ type: 'http' }),
  sorry_server: strict({ address: ipv4, port }).nullable().default(null),
  real_servers: list(realServer, 1024, 'real servers', { count: 1, message: 'list at least one real server' }),
});

const authPass = z
  .string({ error: 'must be a password of 1 to 8 characters' })
  .min(1, 'must not be empty')
  .refine((s) => s.length <= 8, {
    error: (iss) =>
      `is ${String(iss.input).length} characters; keepalived 1.1.15 silently truncates it to 8, so use at most 8`,
  })
  .refine((s) => firstRefused(s, (ch) => !cutsKeepalivedWord(ch)) === undefined, 'must not contain spaces, quotes, "#" or "!" (keepalived reads # and ! as comments)');

const vrrpNode = strict({
  hostname: z.string().regex(HOST_NAME, 'must be a host name: lower-case letters, digits and "-"'),
  priority: int('VRRP priority, 1-254'),
  state: z.enum(['MASTER', 'BACKUP'], { error: 'must be MASTER or BACKUP' }).optional(),
  interfaces: interfaces.default({}),
});

const vrrp = strict({
  interface: interfaceName.default('eth0'),
  virtual_router_id: int('VRID, 1-255'),
  auth_pass: authPass,
  advert_int: seconds('advert_int').default(1),
  nopreempt: z.boolean({ error: 'must be true or false' }).default(false),
  notify: z.boolean({ error: 'must be true or false' }).default(false),
  inside_address: ipv4.nullable().default(null),
  nodes: strict({ master: vrrpNode, backup: vrrpNode }),
});

const passwordHash = z
  .string()
  .refine((h) => /^\$(1|5|6)\$(rounds=\d+\$)?[./0-9A-Za-z]{1,16}\$[./0-9A-Za-z]{22,86}$/.test(h) || /^[./0-9A-Za-z]{13}$/.test(h), {
    error:
      'is not a crypt hash lenny can read: use MD5 ($1$) or SHA-512 ($6$), e.g. from `openssl passwd -1` or `mkpasswd -m sha-512` (yescrypt $y$ is too new)',
  });

const authorizedKey = z
  .string()
  .regex(/^(ssh-rsa|ssh-dss) [A-Za-z0-9+/=]+( .*)?$/, 'must be an ssh-rsa or ssh-dss public key line (OpenSSH 5.1 on lenny reads no ed25519 or ecdsa keys)');

const sysctlValue = z.union([z.string(), z.number()], { error: 'must be a string or a number' }).transform(String);

/** The characters a files: path on the box may have (the folder's file names are held to it too). */
export const BOX_PATH_PATTERN = /^(\/[A-Za-z0-9._+@%=,-]+)+$/;

/** An absolute path on the box, spelt plainly: the archive path-safety rule checks it again where it is used. */
const boxPath = z
  .string({ error: 'must be an absolute path on the box such as /etc/motd' })
  .regex(BOX_PATH_PATTERN, 'must be an absolute path on the box such as /etc/motd: "/" then names of letters, digits and ._+@%=,-')
  .refine((p) => !p.split('/').some((c) => c === '.' || c === '..'), 'must not contain "." or ".." components');

/** A file name relative to the site file's folder (never absolute: nothing of the build host outside that folder). */
const sitePath = z
  .string({ error: 'must be a path relative to the site file, such as files/motd' })
  .regex(/^[A-Za-z0-9._+@%=,-]+(\/[A-Za-z0-9._+@%=,-]+)*\/?$/, 'must be a path relative to the site file\'s folder, such as files/motd (no leading "/")')
  .refine((p) => !p.split('/').some((c) => c === '.' || c === '..'), 'must not contain "." or ".." components: it must stay inside the site file\'s folder');

/** YAML 1.2 reads 0644 as the number 644, so modes are strings. */
const fileMode = z
  .string({ error: 'must be an octal mode in quotes such as "0644" (YAML reads 0644 unquoted as the number 644)' })
  .regex(/^0?[0-7]{3}$/, 'must be an octal mode such as "0644" or "0755" (no setuid, setgid or sticky bits)')
  .transform((m) => parseInt(m, 8));

/** A user or group name as /etc/passwd and /etc/group spell them. */
const accountName = z.string().regex(/^[a-z_][a-z0-9_-]{0,31}$/, 'must be a user or group name such as root or daemon');

const fileEntry = strict({
  path: boxPath,
  source: sitePath.optional(),
  content: z.string({ error: 'must be the file\'s text' }).max(1 << 20, 'is over 1 MiB; put a file that size in files.folder or name it with source:').optional(),
  mode: fileMode.default(0o644),
  owner: accountName.default('root'),
  group: accountName.default('root'),
}).superRefine((e, ctx) => {
  if ((e.source === undefined) === (e.content === undefined)) {
    ctx.addIssue({ code: 'custom', message: 'give either source: (a file beside the site file) or content: (the text), not both or neither' });
  }
});

/** An NTP or syslog server: a host name or an IPv4 address. */
const serverName = z
  .string({ error: 'must be a host name or IPv4 address' })
  .regex(/^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$/, 'must be a host name such as ntp.nict.jp or an IPv4 address')
  .max(253, 'is longer than a DNS name can be');

/** A tz database zone name as /usr/share/zoneinfo spells it; whether the rootfs has it is checked at build time. */
const zoneName = z
  .string({ error: 'must be a time zone name such as Asia/Tokyo or UTC' })
  .regex(/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+){0,2}$/, 'must be a time zone name such as Asia/Tokyo or UTC (as under /usr/share/zoneinfo)')
  .max(64, 'is longer than any time zone name');

export const siteSchema = strict({
  board: z.enum(knownBoards(), { error: `must be ${knownBoards().join(' or ')}` }).default('obs600'),
  hostname: z
    .string()
    .regex(HOST_NAME, 'must be a host name: lower-case letters, digits and "-", at most 63')
    .default('obs600'),
  root: strict({
    password_hash: passwordHash.nullable().default(null),
    allow_default_password: z.boolean({ error: 'must be true or false' }).default(false),
    authorized_keys: list(authorizedKey, 256, 'keys').default([]),
  }).prefault({}),
  network: strict({
    interfaces: interfaces.default({}),
    gateway: ipv4.nullable().default(null),
    nameservers: list(ipv4, 16, 'name servers').default([]),
    ip_forward: z.boolean({ error: 'must be true or false' }).default(true),
    sysctl: mapping(z.string().regex(/^[a-z0-9_]+(\.[a-z0-9_]+)+$/, 'sysctl keys look like net.ipv4.conf.all.rp_filter'), sysctlValue, 256, 'settings').default({}),
  }).prefault({}),
  lvs: strict({
    manager: z.enum(['keepalived', 'ipvsadm'], { error: 'must be keepalived or ipvsadm' }).default('keepalived'),
    vrrp: vrrp.nullable().default(null),
    virtual_servers: list(virtualServer, 256, 'virtual servers', { count: 1, message: 'list at least one virtual server' }),
  }),
  packages: strict({
    suite: z.string().regex(/^[a-z]+$/, 'must be a Debian suite name such as lenny').default('lenny'),
    arch: z.string().regex(/^[a-z0-9]+$/, 'must be a Debian architecture such as powerpc').default('powerpc'),
    mirror: z.string().regex(/^(https?|file):\/\/\S+$/, 'must be an http://, https:// or file:// archive URL').nullable().default(null),
    extra: list(z.string().regex(/^[a-z0-9][a-z0-9+.-]+$/, 'must be a Debian package name'), 256, 'packages').default([]),
  }).prefault({}),
  install: strict({
    cf_device: z.string().regex(/^\/dev\/[a-z]+$/, 'must be a whole-disk device such as /dev/sda').default('/dev/sda'),
  }).prefault({}),
  files: strict({
    folder: sitePath.nullable().default(null),
    entries: list(fileEntry, 1024, 'files').default([]),
  }).prefault({}),
  timezone: zoneName.nullable().default(null),
  ntp: strict({
    servers: list(serverName, 8, 'NTP servers', { count: 1, message: 'list at least one NTP server (or write ntp: null)' }),
  }).nullable().default(null),
  syslog: strict({
    servers: list(serverName, 4, 'syslog servers', { count: 1, message: 'list at least one log host (or write syslog: null)' }),
    port: port.default(514),
    selector: z
      .string()
      .regex(/^[a-z0-9*]+(,[a-z0-9*]+)*\.(\*|none|[a-z]+)(;[a-z0-9*]+(,[a-z0-9*]+)*\.(\*|none|[a-z]+))*$/, 'must be a syslog selector such as *.*, local0.* or daemon.*;auth.*')
      .max(200, 'is longer than a selector needs')
      .default('*.*'),
  }).nullable().default(null),
});

export type ParsedSite = z.output<typeof siteSchema>;
