/**
 * Package relationship fields (Depends, Pre-Depends, Provides...): `a (>= 1.0) | b, c:any [powerpc]`.
 * Architecture qualifiers (`:any`, `:native`) are dropped: a single-architecture lenny system has one arch.
 * Architecture restriction lists (`[powerpc !i386]`, source-package style) are honoured against the target.
 */
import { normalizeOperator, type VersionOperator } from './version.js';

export interface Relation {
  name: string;
  op?: VersionOperator;
  version?: string;
}

/** A conjunction of alternatives: every group must be satisfied by one of its relations. */
export type RelationGroups = Relation[][];

const RELATION = /^([a-z0-9][a-z0-9+.\-]*)(?::[a-z0-9\-]+)?\s*(?:\(\s*(<<|<=|>=|>>|=|<|>)\s*([^)\s<>=][^)\s]*)\s*\))?\s*(?:\[([^\]]*)\])?\s*(?:<[^>]*>\s*)*$/i;

export class RelationSyntaxError extends Error {}

export function parseRelation(text: string, arch?: string): Relation | null {
  const trimmed = text.replace(/\s+/g, ' ').trim();
  const m = RELATION.exec(trimmed);
  if (!m) throw new RelationSyntaxError(`cannot parse relation '${trimmed}'`);
  if (m[4] !== undefined && arch && !archListMatches(m[4], arch)) return null;
  const relation: Relation = { name: m[1].toLowerCase() };
  if (m[2]) {
    relation.op = normalizeOperator(m[2]);
    relation.version = m[3];
  }
  return relation;
}

function archListMatches(list: string, arch: string): boolean {
  const items = list.trim().split(/\s+/).filter(Boolean);
  const negated = items.filter((a) => a.startsWith('!')).map((a) => a.slice(1));
  if (negated.length) return !negated.includes(arch);
  return items.includes(arch) || items.includes('any');
}

/** Parse a Depends-style field. Groups whose alternatives are all excluded for `arch` are dropped. */
export function parseRelations(field: string | undefined, arch?: string): RelationGroups {
  if (!field || !field.trim()) return [];
  const groups: RelationGroups = [];
  for (const groupText of field.split(',')) {
    if (!groupText.trim()) continue;
    const alternatives = groupText
      .split('|')
      .map((alt) => parseRelation(alt, arch))
      .filter((r): r is Relation => r !== null);
    if (alternatives.length) groups.push(alternatives);
  }
  return groups;
}

/** Provides: a flat list; a version is only present for versioned provides (`foo (= 1.2)`). */
export function parseProvides(field: string | undefined): Relation[] {
  return parseRelations(field).map((group) => group[0]);
}

export function formatRelation(r: Relation): string {
  return r.op ? `${r.name} (${r.op} ${r.version})` : r.name;
}

export function formatGroup(group: Relation[]): string {
  return group.map(formatRelation).join(' | ');
}
