/**
 * Reads `obsbuild.yaml`: YAML → schema → the Site model with every default filled in. Every problem is
 * reported as `file:line: key.path: message`, with the line taken from the YAML node the problem is about.
 */
import { createHash } from 'node:crypto';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node } from 'yaml';
import type { z } from 'zod';
import type { Site, VrrpNode } from './model.js';
import { siteSchema, type ParsedSite } from './schema.js';
import { located, UsageError, UserError } from '../util/errors.js';
import { readTextBounded } from '../util/read-bounded.js';

export type SitePath = (string | number)[];

export interface LoadedSite {
  site: Site;
  file: string;
  sha256: string;
  /** The line of the YAML node at `path`, or of its closest ancestor that the file spells out. */
  lineOf(path: SitePath): number | undefined;
}

/** A site file describes one box or one pair: a real one is a few KiB. Bigger input is refused unread. */
export const MAX_SITE_BYTES = 1 << 20;
/** How many times YAML aliases may be expanded: a few anchors are fine, an alias bomb is not. */
const MAX_ALIAS_COUNT = 100;

export async function loadSite(file: string): Promise<LoadedSite> {
  if (file === '') throw new UsageError("--site '': an empty path; name the site file");
  let text: string;
  try {
    text = await readBounded(file, MAX_SITE_BYTES);
  } catch (err) {
    if (err instanceof UserError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    const hint = code === 'ENOENT' ? ' (run `obsbuild init` to write a starter file)' : '';
    throw new UserError(`${file}: cannot read the site file: ${code ?? (err as Error).message}${hint}`, { code: 'site-invalid', cause: err });
  }
  return parseSite(text, file);
}

/** Reads at most `max` bytes (a pipe or /dev/zero has no size to check first); more is an error saying `why` it is capped. */
export async function readBounded(file: string, max: number, why = 'a site file describes one box or one pair'): Promise<string> {
  return readTextBounded(file, max, { why, code: 'site-invalid' });
}

/** Parses site file text; `file` is only used in messages. */
export function parseSite(text: string, file: string): LoadedSite {
  if (Buffer.byteLength(text) > MAX_SITE_BYTES) {
    throw new UserError(`${file}: larger than ${MAX_SITE_BYTES / (1 << 20)} MiB; a site file describes one box or one pair`, { code: 'site-invalid' });
  }
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const e = doc.errors[0];
    const line = lineCounter.linePos(e.pos[0]).line;
    throw new UserError(located(file, line, `not valid YAML: ${e.message.split('\n')[0]}`), { code: 'site-invalid', cause: e });
  }
  const lineOf = (path: SitePath) => lineOfPath(doc, lineCounter, path);
  const raw = toPlain(doc, file);
  // !!binary makes a Buffer: an object, but not a mapping (its methods would be named as unknown keys).
  if (raw === null || raw === undefined || typeof raw !== 'object' || Array.isArray(raw) || ArrayBuffer.isView(raw)) {
    throw new UserError(located(file, 1, 'the site file must be a YAML mapping (board:, hostname:, network:, lvs:, ...)'), { code: 'site-invalid' });
  }
  const result = validate(raw, file);
  if (!result.success) {
    // An unknown key usually explains a "required" one next to it (a typo), so report it first.
    const issues = result.error.issues;
    const issue = issues.find((i) => i.code === 'unrecognized_keys') ?? issues[0];
    const { path, message } = describeIssue(issue, raw);
    throw new UserError(located(file, lineOf(path), message), { code: 'site-invalid' });
  }
  const site = completeSite(result.data);
  return { site, file, sha256: createHash('sha256').update(text).digest('hex'), lineOf };
}

/** The document as plain data, with the YAML library's resource guards turned into one-line errors. */
export function toPlain(doc: Document, file: string, kind = 'a site file'): unknown {
  try {
    return doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT }) as unknown;
  } catch (err) {
    if (err instanceof ReferenceError && /alias/i.test(err.message)) {
      throw new UserError(located(file, undefined, `its YAML aliases (*name) expand to too much data (more than ${MAX_ALIAS_COUNT} expansions); write the values out`), { code: 'site-invalid', cause: err });
    }
    if (err instanceof RangeError) throw new UserError(located(file, undefined, `nested too deeply to be ${kind}`), { code: 'site-invalid', cause: err });
    throw err;
  }
}

function validate(raw: unknown, file: string): ReturnType<typeof siteSchema.safeParse> {
  try {
    return siteSchema.safeParse(raw);
  } catch (err) {
    // The lists are capped before their items are checked; this is the guard behind that guard.
    if (err instanceof RangeError) throw new UserError(located(file, undefined, 'too large or nested too deeply to check; a site file describes one box or one pair'), { code: 'site-invalid', cause: err });
    throw err;
  }
}

/** Defaults that depend on other keys: VS names, node states, node interfaces. */
function completeSite(parsed: ParsedSite): Site {
  // Assigned without a cast, so the compiler proves the schema's output is the model of src/site/model.ts.
  const site: Site = {
    ...parsed,
    lvs: { ...parsed.lvs, virtual_servers: parsed.lvs.virtual_servers.map((vs, i) => ({ ...vs, name: vs.name ?? `vs${i + 1}` })) },
  };
  const vrrp = site.lvs.vrrp;
  if (vrrp) {
    for (const role of ['master', 'backup'] as const) {
      const node: VrrpNode = vrrp.nodes[role];
      // keepalived advice: nopreempt only works when every node starts as BACKUP.
      node.state ??= role === 'master' && !vrrp.nopreempt ? 'MASTER' : 'BACKUP';
      node.interfaces = { ...site.network.interfaces, ...node.interfaces };
    }
  }
  return site;
}

function dotted(path: SitePath): string {
  return path.map((p, i) => (typeof p === 'number' ? `[${p}]` : i === 0 ? p : `.${p}`)).join('');
}

function valueAt(root: unknown, path: SitePath): unknown {
  let v: unknown = root;
  for (const p of path) {
    if (v === null || typeof v !== 'object') return undefined;
    v = (v as Record<string | number, unknown>)[p];
  }
  return v;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (ArrayBuffer.isView(v)) return 'binary data (!!binary)';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return `"${v}"`;
  return String(v);
}

export function describeIssue(issue: z.core.$ZodIssue, raw: unknown): { path: SitePath; message: string } {
  const path = issue.path as SitePath;
  const where = dotted(path);
  switch (issue.code) {
    case 'unrecognized_keys': {
      const keyPath = [...path, issue.keys[0]];
      return { path: keyPath, message: `${where ? `${where}: ` : ''}${issue.message}` };
    }
    case 'invalid_type': {
      const actual = valueAt(raw, path);
      if (actual === undefined) return { path, message: `${where} is required` };
      if (typeof actual === 'number' && issue.expected === 'int') return { path, message: `${where} ${issue.message}` };
      const expected = issue.message.startsWith('Invalid input') ? `must be ${article(issue.expected)}` : issue.message;
      return { path, message: `${where} ${expected}, not ${describeValue(actual)}` };
    }
    case 'invalid_union': {
      // A discriminated union (check:) whose `type` is missing or unknown; zod points at the `type` key.
      const actual = valueAt(raw, path);
      const parent = valueAt(raw, path.slice(0, -1));
      if (parent === null || typeof parent !== 'object' || Array.isArray(parent)) {
        const parentWhere = dotted(path.slice(0, -1));
        return { path: path.slice(0, -1), message: `${parentWhere} must be a mapping such as { type: tcp }` };
      }
      return { path, message: `${where} ${actual === undefined ? 'is required' : `is ${describeValue(actual)}`}: ${issue.message}` };
    }
    case 'invalid_value':
      return { path, message: `${where} is ${describeValue(valueAt(raw, path))}: ${issue.message}` };
    default:
      return { path, message: `${where}${issue.message.startsWith('is ') ? ' ' : ': '}${issue.message}` };
  }
}

function article(expected: string): string {
  const words: Record<string, string> = {
    string: 'a string',
    number: 'a number',
    boolean: 'true or false',
    object: 'a mapping',
    array: 'a list',
  };
  return words[expected] ?? expected;
}

export function lineOfPath(doc: Document, lc: LineCounter, path: SitePath): number | undefined {
  let node: unknown = doc.contents;
  let line = node && (node as Node).range ? lc.linePos((node as Node).range![0]).line : undefined;
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((it) => isScalar(it.key) && String(it.key.value) === String(segment));
      if (!pair) break;
      const key = pair.key as Node;
      if (key.range) line = lc.linePos(key.range[0]).line;
      node = pair.value;
    } else if (isSeq(node) && typeof segment === 'number') {
      const item = node.items[segment] as Node | undefined;
      if (!item) break;
      if (item.range) line = lc.linePos(item.range[0]).line;
      node = item;
    } else {
      break;
    }
  }
  return line;
}
