/**
 * Debian version strings, compared exactly as dpkg does (lib/dpkg/version.c: epoch, then upstream version,
 * then Debian revision, each part with verrevcmp's rules: `~` sorts before everything, even the end).
 */
export interface DebianVersion {
  epoch: number;
  upstream: string;
  revision: string;
}

export function parseVersion(text: string): DebianVersion {
  const trimmed = text.trim();
  const colon = trimmed.indexOf(':');
  let epoch = 0;
  let rest = trimmed;
  if (colon >= 0) {
    const epochText = trimmed.slice(0, colon);
    if (!/^\d+$/.test(epochText)) throw new Error(`version '${text}': epoch is not a number`);
    epoch = Number(epochText);
    rest = trimmed.slice(colon + 1);
  }
  const dash = rest.lastIndexOf('-');
  const upstream = dash >= 0 ? rest.slice(0, dash) : rest;
  const revision = dash >= 0 ? rest.slice(dash + 1) : '';
  if (upstream === '') throw new Error(`version '${text}': empty upstream version`);
  return { epoch, upstream, revision };
}

function isDigit(code: number): boolean {
  return code >= 48 && code <= 57;
}

function isLetter(code: number): boolean {
  return (code >= 65 && code <= 90) || (code >= 97 && code <= 122);
}

/** dpkg's order(): digits and the end weigh 0, letters their code, `~` -1, anything else code + 256. */
function order(code: number): number {
  if (Number.isNaN(code) || isDigit(code)) return 0;
  if (isLetter(code)) return code;
  if (code === 126) return -1;
  return code + 256;
}

/** dpkg's verrevcmp(): alternating non-digit and digit runs. Returns <0, 0, >0. */
function verrevcmp(a: string, b: string): number {
  let i = 0;
  let j = 0;
  const at = (s: string, k: number): number => (k < s.length ? s.charCodeAt(k) : NaN);
  while (i < a.length || j < b.length) {
    let firstDiff = 0;
    while ((i < a.length && !isDigit(a.charCodeAt(i))) || (j < b.length && !isDigit(b.charCodeAt(j)))) {
      const ac = order(at(a, i));
      const bc = order(at(b, j));
      if (ac !== bc) return ac - bc;
      i++;
      j++;
    }
    while (at(a, i) === 48) i++;
    while (at(b, j) === 48) j++;
    while (i < a.length && j < b.length && isDigit(a.charCodeAt(i)) && isDigit(b.charCodeAt(j))) {
      if (!firstDiff) firstDiff = a.charCodeAt(i) - b.charCodeAt(j);
      i++;
      j++;
    }
    if (i < a.length && isDigit(a.charCodeAt(i))) return 1;
    if (j < b.length && isDigit(b.charCodeAt(j))) return -1;
    if (firstDiff) return firstDiff;
  }
  return 0;
}

/** Compare two version strings: negative if a < b, 0 if equal, positive if a > b. */
export function compareVersions(a: string, b: string): number {
  const va = parseVersion(a);
  const vb = parseVersion(b);
  if (va.epoch !== vb.epoch) return va.epoch - vb.epoch;
  const upstream = verrevcmp(va.upstream, vb.upstream);
  if (upstream) return upstream;
  return verrevcmp(va.revision, vb.revision);
}

/** Relation operators as written in control fields; `<` and `>` are dpkg's obsolete spellings of `<=`, `>=`. */
export type VersionOperator = '<<' | '<=' | '=' | '>=' | '>>';

export function normalizeOperator(op: string): VersionOperator {
  switch (op) {
    case '<<':
    case '<=':
    case '=':
    case '>=':
    case '>>':
      return op;
    case '<':
      return '<=';
    case '>':
      return '>=';
    default:
      throw new Error(`unknown version relation '${op}'`);
  }
}

/** Does `version` satisfy `version op reference`? */
export function satisfiesVersion(version: string, op: VersionOperator, reference: string): boolean {
  const c = compareVersions(version, reference);
  switch (op) {
    case '<<':
      return c < 0;
    case '<=':
      return c <= 0;
    case '=':
      return c === 0;
    case '>=':
      return c >= 0;
    case '>>':
      return c > 0;
  }
}
