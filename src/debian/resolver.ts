/**
 * Dependency resolution with dpkg semantics, against what the base rootfs already has installed:
 * Pre-Depends and Depends, alternatives (`a | b`), version constraints, Provides (a versioned dependency is
 * only met by a versioned Provides), and Architecture `all` alongside the target architecture.
 * Greedy with backtracking over alternatives; the result lists packages dependencies-first.
 */
import { UserError } from '../util/errors.js';
import { parseStanzas, type Stanza } from './control.js';
import type { PackageEntry } from './packages-index.js';
import { formatGroup, formatRelation, parseProvides, type Relation } from './relations.js';
import { compareVersions, satisfiesVersion } from './version.js';

export interface InstalledPackage {
  name: string;
  version: string;
  arch: string;
  provides: Relation[];
  /** Essential: yes or Priority: required: the base system's core, never replaced from the index. */
  core: boolean;
}

/** The packages a dpkg status file marks as installed (`... ok installed`). */
export function installedFromStatus(statusText: string): InstalledPackage[] {
  return parseStanzas(statusText)
    .filter((s: Stanza) => (s.get('Status') ?? '').trim().split(/\s+/)[2] === 'installed')
    .map((s) => ({
      name: s.get('Package') ?? '',
      version: s.get('Version') ?? '',
      arch: s.get('Architecture') ?? 'all',
      provides: parseProvides(s.get('Provides')),
      core: s.get('Essential') === 'yes' || s.get('Priority') === 'required',
    }));
}

export interface ResolveRequest {
  wanted: string[];
  index: PackageEntry[];
  installed: InstalledPackage[];
  /** Target dpkg architecture, e.g. powerpc. */
  arch: string;
}

export interface ResolvedPackage {
  entry: PackageEntry;
  /** Who asked for it first: ['keepalived', 'libssl0.9.8']. */
  chain: string[];
  /** The base system's version this one replaces, when the base's was too old. */
  upgrades?: string;
}

export interface Resolution {
  packages: ResolvedPackage[];
  /** Requested packages the base rootfs already has. */
  alreadyInstalled: string[];
}

class ResolveFailure extends Error {
  constructor(
    readonly depth: number,
    message: string,
  ) {
    super(message);
  }
}

interface Candidate {
  entry: PackageEntry;
  via?: string; // the virtual name it provides
}

class Resolver {
  private readonly byName = new Map<string, PackageEntry[]>();
  private readonly otherArch = new Map<string, string[]>();
  private readonly providers = new Map<string, { entry: PackageEntry; version?: string }[]>();
  private readonly installed = new Map<string, InstalledPackage>();
  private readonly installedProvides = new Map<string, (string | undefined)[]>();
  private selected = new Map<string, ResolvedPackage>();
  private order: ResolvedPackage[] = [];

  constructor(private readonly req: ResolveRequest) {
    for (const entry of req.index) {
      if (entry.arch !== req.arch && entry.arch !== 'all') {
        this.otherArch.set(entry.name, [...(this.otherArch.get(entry.name) ?? []), entry.arch]);
        continue;
      }
      this.byName.set(entry.name, [...(this.byName.get(entry.name) ?? []), entry]);
      for (const p of entry.provides) {
        this.providers.set(p.name, [...(this.providers.get(p.name) ?? []), { entry, version: p.op === '=' ? p.version : undefined }]);
      }
    }
    for (const list of this.byName.values()) list.sort((a, b) => compareVersions(b.version, a.version));
    for (const list of this.providers.values()) list.sort((a, b) => (a.entry.name < b.entry.name ? -1 : a.entry.name > b.entry.name ? 1 : compareVersions(b.entry.version, a.entry.version)));
    for (const pkg of req.installed) {
      this.installed.set(pkg.name, pkg);
      for (const p of pkg.provides) {
        this.installedProvides.set(p.name, [...(this.installedProvides.get(p.name) ?? []), p.op === '=' ? p.version : undefined]);
      }
    }
  }

  run(): Resolution {
    const alreadyInstalled: string[] = [];
    for (const name of this.req.wanted) {
      const rel: Relation = { name };
      if (this.selected.has(name)) continue;
      if (this.installed.has(name)) {
        alreadyInstalled.push(name);
        continue;
      }
      try {
        this.satisfyGroup([rel], []);
      } catch (err) {
        if (err instanceof ResolveFailure) throw new UserError(err.message, { code: 'package-invalid', cause: err });
        throw err;
      }
    }
    return { packages: this.order, alreadyInstalled };
  }

  private versionMeets(version: string | undefined, rel: Relation): boolean {
    if (!rel.op) return true;
    if (version === undefined) return false;
    return satisfiesVersion(version, rel.op, rel.version!);
  }

  /** Already met by the base system or by a package chosen earlier? */
  private metNow(rel: Relation): boolean {
    const chosen = this.selected.get(rel.name);
    if (chosen) {
      if (this.versionMeets(chosen.entry.version, rel)) return true;
    } else {
      const inst = this.installed.get(rel.name);
      if (inst && this.versionMeets(inst.version, rel)) return true;
    }
    for (const version of this.installedProvides.get(rel.name) ?? []) if (this.versionMeets(version, rel)) return true;
    for (const chosen of this.selected.values()) {
      for (const p of chosen.entry.provides) {
        if (p.name === rel.name && this.versionMeets(p.op === '=' ? p.version : undefined, rel)) return true;
      }
    }
    return false;
  }

  private candidates(rel: Relation): Candidate[] {
    const real = (this.byName.get(rel.name) ?? []).filter((e) => this.versionMeets(e.version, rel)).map((entry) => ({ entry }));
    const virtual = (this.providers.get(rel.name) ?? [])
      .filter((p) => this.versionMeets(p.version, rel))
      .map((p) => ({ entry: p.entry, via: rel.name }));
    return [...real, ...virtual];
  }

  private whyMissing(rel: Relation): string {
    const versions = (this.byName.get(rel.name) ?? []).map((e) => e.version);
    const inst = this.installed.get(rel.name);
    const instText = inst ? `installed ${inst.version}` : 'not installed';
    if (versions.length) return `the index has ${versions.join(', ')}, ${instText}`;
    const elsewhere = this.otherArch.get(rel.name);
    if (elsewhere) return `the index has it only for ${[...new Set(elsewhere)].join(', ')}, not ${this.req.arch}`;
    if (this.providers.has(rel.name) || this.installedProvides.has(rel.name)) return `provided only without a matching version`;
    if (inst?.core) return `${instText} and not in the index; are the packages from another Debian release than the rootfs?`;
    if (inst) return `${instText} and not in the index`;
    return 'not in the index and not installed';
  }

  private satisfyGroup(group: Relation[], chain: string[]): void {
    if (group.some((rel) => this.metNow(rel))) return;
    const failures: ResolveFailure[] = [];
    const label = [...chain, formatGroup(group)].join(' -> ');
    for (const rel of group) {
      for (const candidate of this.candidates(rel)) {
        const already = this.selected.get(candidate.entry.name);
        if (already && already.entry !== candidate.entry) continue; // one version per package
        const saved = { selected: new Map(this.selected), order: [...this.order] };
        try {
          this.select(candidate.entry, [...chain, candidate.via ? `${formatRelation(rel)} (provided by ${candidate.entry.name})` : formatRelation(rel)]);
          return;
        } catch (err) {
          if (!(err instanceof ResolveFailure)) throw err;
          this.selected = saved.selected;
          this.order = saved.order;
          failures.push(err);
        }
      }
    }
    const deeper = failures.sort((a, b) => b.depth - a.depth)[0];
    if (deeper) throw deeper;
    const reasons = group.map((rel) => (group.length > 1 ? `${rel.name}: ${this.whyMissing(rel)}` : this.whyMissing(rel)));
    throw new ResolveFailure(chain.length, `${label}: ${reasons.join('; ')}`);
  }

  private select(entry: PackageEntry, chain: string[]): void {
    if (this.selected.has(entry.name)) return;
    const inst = this.installed.get(entry.name);
    if (inst?.core) {
      // Replacing libc6 & co. in an overlay would break the box; it almost always means a wrong release.
      throw new ResolveFailure(
        chain.length,
        `${chain.join(' -> ')}: needs ${entry.name} ${entry.version} from the index, but the rootfs's ${entry.name} ${inst.version} is part of the base system (required); are the packages from another Debian release than the rootfs?`,
      );
    }
    const here = [...chain.slice(0, -1), entry.name];
    const resolved: ResolvedPackage = { entry, chain: here };
    if (inst) resolved.upgrades = inst.version;
    this.selected.set(entry.name, resolved);
    for (const group of [...entry.preDepends, ...entry.depends]) this.satisfyGroup(group, here);
    this.order.push(resolved);
  }
}

/** Resolve the wanted packages; an unresolvable dependency is a UserError naming the chain. */
export function resolvePackages(req: ResolveRequest): Resolution {
  return new Resolver(req).run();
}
