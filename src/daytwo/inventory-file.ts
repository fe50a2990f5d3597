/**
 * The inventory file (`--inventory FILE`): the boxes a day-two command runs on, each with its site file, its
 * node of an HA pair, and exactly one way to reach it. Read bounded, checked completely before any box is
 * touched (every site file loaded, every name, port and address unique), and every problem reported as
 * `file:line: message`, with the line of the YAML node it is about.
 *
 *   boxes:
 *     - name: lb-a                 # names the box in the summary and its log file
 *       site: sites/pair.yaml      # relative to the inventory file
 *       node: master               # required for an HA pair site, refused otherwise
 *       host: root@192.0.2.10      # SSH: [user@]host[:port]
 *       identity: keys/obs600      # optional, SSH only; so are known_hosts and accept_new_host_key
 *     - name: lb-b
 *       site: sites/pair.yaml
 *       node: backup
 *       port: /dev/ttyUSB0         # serial console (absolute path); optional baud (default 115200)
 */
import { realpath } from 'node:fs/promises';
import { dirname, isAbsolute, resolve } from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import { z } from 'zod';
import type { NodeRole } from '../site/model.js';
import { describeIssue, lineOfPath, loadSite, readBounded, toPlain, type LoadedSite, type SitePath } from '../site/load.js';
import { strict } from '../site/schema.js';
import { pickNode } from '../site/nodes.js';
import { parseHost, type SshTarget } from '../remote/ssh-options.js';
import { located, UserError } from '../util/errors.js';
import { boxTargetFromSpec, type BoxTargetSpec } from './target-rules.js';
import { baudProblem, DEFAULT_BAUD } from '../console/port.js';
import type { BoxTarget } from './transport.js';

/** A real inventory lists a few dozen boxes in some KiB; bigger input is refused unread. */
export const MAX_INVENTORY_BYTES = 1 << 20;
/** Far above any fleet of OpenBlockS boxes one operator drives from one machine. */
export const MAX_BOXES = 1000;
const MAX_PATH = 4096;
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/;

/** One box as the file spells it, with the line it starts on. Paths are resolved against the file's folder. */
export interface InventoryEntry {
  name: string;
  line: number | undefined;
  /** Absolute path of the site file. */
  site: string;
  node?: NodeRole;
  transport: { kind: 'serial'; port: string; baud: number } | { kind: 'ssh'; target: SshTarget; identityFile?: string; knownHostsFile?: string; acceptNewHostKey: boolean };
  /** Absolute path of the manifest of the build the box runs, when the file names one. */
  manifest?: string;
}

/** One box, ready to run a job on. */
export interface InventoryBox {
  name: string;
  /** Absolute path of the site file: two boxes with the same one and nodes master and backup are one HA pair. */
  site: string;
  node?: NodeRole;
  target: BoxTarget;
  loaded: LoadedSite;
  /** The node's hostname, from the site file. */
  hostname: string;
  manifest?: string;
}

export interface Inventory {
  file: string;
  boxes: InventoryBox[];
}

const path = (what: string) =>
  z
    .string({ error: `must be a path (${what})` })
    .min(1, `must be a path (${what}), not empty`)
    .max(MAX_PATH, `is longer than ${MAX_PATH} characters; not a path (${what})`)
    .refine((p) => !CONTROL.test(p), `contains a control character; not a path (${what})`);

// The name becomes the box's log file name: no '/', no leading '.', nothing a terminal would interpret.
const NAME_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

const boxSchema = strict({
  name: z.string({ error: 'must be a name such as lb-tokyo-1' }).regex(NAME_RE, "must be 1 to 63 letters, digits, '.', '_' or '-', starting with a letter or digit (it names the box's log file)"),
  site: path('the site file, relative to the inventory file'),
  node: z.enum(['master', 'backup'], { error: 'must be master or backup' }).optional(),
  host: z.string({ error: 'must be [user@]host[:port] (SSH)' }).optional(),
  port: path('the serial device, e.g. /dev/ttyUSB0').optional(),
  baud: z.number({ error: 'must be a number (serial baud rate)' }).optional(),
  identity: path('an SSH private key').optional(),
  known_hosts: path('an SSH known_hosts file').optional(),
  accept_new_host_key: z.boolean({ error: 'must be true or false' }).optional(),
  manifest: path("the manifest.json of the build the box runs").optional(),
}).superRefine((b, ctx) => {
  const issue = (key: string, message: string) => ctx.addIssue({ code: 'custom', path: [key], message });
  if ((b.host === undefined) === (b.port === undefined)) {
    ctx.addIssue({ code: 'custom', path: [], message: 'give exactly one of host: (SSH) and port: (serial console)' });
    return;
  }
  if (b.port !== undefined) {
    if (!isAbsolute(b.port)) issue('port', `"${b.port}" is not an absolute path; name the serial device, e.g. /dev/ttyUSB0`);
    for (const key of ['identity', 'known_hosts', 'accept_new_host_key'] as const) {
      if (b[key] !== undefined) issue(key, 'is for SSH boxes (host:) only');
    }
  } else {
    if (b.baud !== undefined) issue('baud', 'is for serial boxes (port:) only');
    try {
      parseHost(b.host!);
    } catch (err) {
      if (!(err instanceof UserError)) throw err;
      issue('host', err.message.replace(/^--host /, ''));
    }
    // ssh reads these paths from a quoted config value, where '"' cannot appear.
    for (const key of ['identity', 'known_hosts'] as const) {
      if (b[key]?.includes('"')) issue(key, `contains '"', which ssh cannot take in a path`);
    }
  }
  if (b.baud !== undefined) {
    const problem = baudProblem(b.baud);
    if (problem) issue('baud', problem);
  }
});

const inventorySchema = strict({
  // The length is checked before the items: zod checks every item and gathers every issue first.
  boxes: z
    .array(z.unknown(), { error: 'must be a list of boxes' })
    .superRefine((a, ctx) => {
      if (a.length > MAX_BOXES) ctx.addIssue({ code: 'custom', message: `lists ${a.length} boxes; at most ${MAX_BOXES} make sense` });
    })
    .pipe(z.array(boxSchema).min(1, 'lists no box')),
});

/** Parses inventory text; `file` names it in messages and is the base of its relative paths. */
export function parseInventory(text: string, file: string): InventoryEntry[] {
  if (Buffer.byteLength(text) > MAX_INVENTORY_BYTES) throw new UserError(`${file}: larger than ${MAX_INVENTORY_BYTES / (1 << 20)} MiB; not an inventory`, { code: 'site-invalid' });
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    throw new UserError(located(file, lineCounter.linePos(e.pos[0]).line, `not valid YAML: ${e.message.split('\n')[0]}`), { code: 'site-invalid' });
  }
  const lineOf = (p: SitePath) => lineOfPath(doc, lineCounter, p);
  const raw = toPlain(doc, file, 'an inventory');
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw) || ArrayBuffer.isView(raw)) {
    throw new UserError(located(file, 1, 'the inventory must be a YAML mapping with a list of boxes: (name, site, node, host or port)'), { code: 'site-invalid' });
  }
  let result: ReturnType<typeof inventorySchema.safeParse>;
  try {
    result = inventorySchema.safeParse(raw);
  } catch (err) {
    if (err instanceof RangeError) throw new UserError(located(file, undefined, 'too large or nested too deeply to check; not an inventory'), { code: 'site-invalid' });
    throw err;
  }
  if (!result.success) {
    const issues = result.error.issues;
    const { path: at, message } = describeIssue(issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0], raw);
    throw new UserError(located(file, lineOf(at), message), { code: 'site-invalid' });
  }

  const base = dirname(resolve(file));
  const byName = new Map<string, number | undefined>();
  return result.data.boxes.map((b, i): InventoryEntry => {
    const line = lineOf(['boxes', i]);
    const seen = byName.get(b.name);
    if (byName.has(b.name)) throw new UserError(located(file, lineOf(['boxes', i, 'name']), `boxes[${i}].name: "${b.name}" is already the name of the box at line ${seen}`), { code: 'site-invalid' });
    byName.set(b.name, line);
    const transport: InventoryEntry['transport'] =
      b.port !== undefined
        ? { kind: 'serial', port: b.port, baud: b.baud ?? DEFAULT_BAUD }
        : {
            kind: 'ssh',
            target: parseHost(b.host!),
            identityFile: b.identity === undefined ? undefined : resolve(base, b.identity),
            knownHostsFile: b.known_hosts === undefined ? undefined : resolve(base, b.known_hosts),
            acceptNewHostKey: b.accept_new_host_key === true,
          };
    return {
      name: b.name,
      line,
      site: resolve(base, b.site),
      ...(b.node === undefined ? {} : { node: b.node }),
      transport,
      ...(b.manifest === undefined ? {} : { manifest: resolve(base, b.manifest) }),
    };
  });
}

export interface InventoryContext {
  /** Where the console recorded host keys: an SSH box's default known_hosts is <outDir>/<hostname>/known_hosts. */
  outDir: string;
  /** Serial login, the same for every serial box (the command's --user and --password). */
  serialUser: string;
  serialPassword?: string;
}

/** Reads the inventory and every site file it names, and turns each box into a BoxTarget. */
export async function loadInventory(file: string, ctx: InventoryContext): Promise<Inventory> {
  let text: string;
  try {
    text = await readBounded(file, MAX_INVENTORY_BYTES, 'not an inventory');
  } catch (err) {
    if (err instanceof UserError) throw err;
    throw new UserError(`${file}: cannot read the inventory: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, { code: 'site-invalid', cause: err });
  }
  return resolveInventory(parseInventory(text, file), file, ctx);
}

/** Loads each site file once, checks node against the site and that no two boxes are one, builds targets. */
export async function resolveInventory(entries: InventoryEntry[], file: string, ctx: InventoryContext): Promise<Inventory> {
  const sites = new Map<string, LoadedSite>();
  const claimed = new Map<string, InventoryEntry>();
  const claim = (key: string, e: InventoryEntry, what: string) => {
    const other = claimed.get(key);
    if (other) throw new UserError(located(file, e.line, `box "${e.name}": ${what} is already box "${other.name}" (line ${other.line}); one entry per box`), { code: 'site-invalid' });
    claimed.set(key, e);
  };
  const boxes: InventoryBox[] = [];
  for (const e of entries) {
    // A link to a site file is that file: one box per site, and a pair's two nodes are ordered together.
    const site = await realpath(e.site).catch(() => e.site);
    let loaded = sites.get(site);
    if (!loaded) {
      try {
        loaded = await loadSite(e.site);
      } catch (err) {
        if (!(err instanceof UserError)) throw err;
        throw new UserError(located(file, e.line, `box "${e.name}": ${err.message}`), { code: err.code, cause: err });
      }
      sites.set(site, loaded);
    }
    const pair = loaded.site.lvs.vrrp !== undefined && loaded.site.lvs.vrrp !== null;
    if (pair && e.node === undefined) throw new UserError(located(file, e.line, `box "${e.name}": ${e.site} is an HA pair; give node: master or node: backup`), { code: 'site-invalid' });
    if (!pair && e.node !== undefined) throw new UserError(located(file, e.line, `box "${e.name}": node: is only for an HA pair site (${e.site} has no lvs.vrrp)`), { code: 'site-invalid' });
    claim(`site ${site} ${e.node ?? ''}`, e, e.node === undefined ? `site ${e.site}` : `site ${e.site} node ${e.node}`);
    const t = e.transport;
    let spec: BoxTargetSpec;
    if (t.kind === 'serial') {
      // Two names for one device (a /dev/serial/by-id link) are one console; a port not plugged in yet keeps its name.
      const device = await realpath(t.port).catch(() => resolve(t.port));
      claim(`port ${device}`, e, `port ${t.port}`);
      spec = { kind: 'serial', port: t.port, baud: t.baud, user: ctx.serialUser, password: ctx.serialPassword };
    } else {
      claim(`host ${t.target.host.toLowerCase()} ${t.target.port}`, e, `host ${t.target.host} port ${t.target.port}`);
      spec = { kind: 'ssh', target: t.target, identityFile: t.identityFile, knownHostsFile: t.knownHostsFile, acceptNewHostKey: t.acceptNewHostKey };
    }
    const hostname = pickNode(loaded.site, e.node).hostname;
    // One hostname is one box: its known_hosts, host key alias and log are named after it (a copied site file
    // would otherwise make two boxes share them)
    claim(`hostname ${hostname}`, e, `hostname ${hostname}`);
    boxes.push({
      name: e.name,
      site,
      ...(e.node === undefined ? {} : { node: e.node }),
      target: boxTargetFromSpec(spec, { outDir: ctx.outDir, hostname }),
      loaded,
      hostname,
      ...(e.manifest === undefined ? {} : { manifest: e.manifest }),
    });
  }
  return { file, boxes };
}
