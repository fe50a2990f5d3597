import { createHash } from 'node:crypto';
import { createReadStream, rmdirSync, rmSync } from 'node:fs';
import { constants, copyFile, lstat, mkdir, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { join, relative, sep } from 'node:path';
import { swapIntoPlace, tempSibling } from '../util/atomic.js';
import { makeDirs, removeDirs } from '../util/dirs.js';
import { checkOutputParent, checkOutputPath, type OutputRule } from '../util/output-path.js';

/**
 * The output folder out/<hostname>/: built in a temporary sibling and renamed into place only when every
 * node of the build succeeded, so a failed build leaves the previous output untouched.
 */

export const SUMS_FILE = 'SHA256SUMS';

/** What every finished output folder holds; its presence lets a later build replace the folder. */
export const OUTPUT_MARKER = 'manifest.json';

/** <out>/<hostname>: new, empty, or an earlier build's (it has a manifest.json). */
const HOST_OUTPUT: OutputRule = { argument: '--out', kind: 'dir', markers: [OUTPUT_MARKER], owner: 'obsbuild image' };

/** Refuses, before any work, an --out whose <hostname> folders may not be replaced. */
export async function checkOutputs(outDir: string, hostnames: readonly string[]): Promise<void> {
  await checkOutputParent(outDir, '--out');
  for (const h of hostnames) await checkOutputPath(join(outDir, h), HOST_OUTPUT);
}

/** One file of an output folder, by its path relative to the folder. */
export interface OutputFile {
  path: string;
  size: number;
  sha256: string;
}

/**
 * What one appliance's output folder holds so far, filled in by the steps that write it: the files the
 * manifest and the summary list, and every sha256 already known (SHA256SUMS reuses them, so no file is
 * read twice).
 */
export class OutputLedger {
  private readonly sums = new Map<string, string>();
  private readonly listed: OutputFile[] = [];

  /** A file the manifest lists. */
  add(file: OutputFile): void {
    this.sums.set(file.path, file.sha256);
    this.listed.push(file);
  }

  /** A file whose sha256 is known but which the manifest does not list (the manifest itself). */
  know(path: string, sha256: string): void {
    this.sums.set(path, sha256);
  }

  get files(): OutputFile[] {
    return [...this.listed];
  }

  get knownSums(): ReadonlyMap<string, string> {
    return this.sums;
  }
}

export interface StagedOutput {
  hostname: string;
  /** Where the output ends up: <out>/<hostname>. */
  finalDir: string;
  /** Where it is built: a hidden sibling of finalDir. */
  workDir: string;
  /** Folders created to hold it (out/ itself on a first build), removed again if the build fails. */
  createdDirs: string[];
}

export async function stageOutput(outDir: string, hostname: string): Promise<StagedOutput> {
  await checkOutputs(outDir, [hostname]);
  const finalDir = join(outDir, hostname);
  const createdDirs = await makeDirs(outDir);
  const workDir = tempSibling(finalDir);
  await mkdir(workDir);
  return { hostname, finalDir, workDir, createdDirs };
}

/** Rename every staged folder into place (replacing the previous output of the same host). */
export async function commitOutputs(staged: readonly StagedOutput[]): Promise<void> {
  for (const s of staged) await swapIntoPlace(s.workDir, s.finalDir);
}

/** discardOutputs for a signal handler, which cannot wait for promises. */
export function discardOutputsSync(staged: readonly StagedOutput[]): void {
  for (const s of staged) rmSync(s.workDir, { recursive: true, force: true });
  for (const d of staged.flatMap((s) => s.createdDirs).reverse()) {
    try {
      rmdirSync(d);
    } catch {
      return; // not empty: someone else wrote there
    }
  }
}

export async function discardOutputs(staged: readonly StagedOutput[]): Promise<void> {
  await Promise.all(staged.map((s) => rm(s.workDir, { recursive: true, force: true })));
  for (const s of [...staged].reverse()) await removeDirs(s.createdDirs);
}

/** Byte-for-byte copy (a reflink where the filesystem can), with a fixed mtime. */
export async function copyVerbatim(from: string, to: string, mtime: number): Promise<void> {
  await copyFile(from, to, constants.COPYFILE_FICLONE);
  await utimes(to, mtime, mtime);
}

export async function sha256File(file: string): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(file, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { sha256: hash.digest('hex'), size };
}

/** Every regular file under dir, as '/'-separated relative paths, sorted. */
export async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  async function walk(d: string): Promise<void> {
    for (const name of await readdir(d)) {
      const full = join(d, name);
      const st = await lstat(full);
      if (st.isDirectory()) await walk(full);
      else if (st.isFile()) out.push(relative(dir, full).split(sep).join('/'));
    }
  }
  await walk(dir);
  return out.sort();
}

/**
 * SHA256SUMS in `sha256sum -c` format over every file of the output folder but itself. Hashes already
 * known (inputs copied verbatim, files the build streamed) are passed in to avoid reading them again.
 */
export async function writeSha256Sums(dir: string, known: ReadonlyMap<string, string> = new Map()): Promise<string> {
  const lines: string[] = [];
  for (const rel of await listFiles(dir)) {
    if (rel === SUMS_FILE) continue;
    const sum = known.get(rel) ?? (await sha256File(join(dir, rel))).sha256;
    lines.push(`${sum}  ${rel}`);
  }
  const text = lines.join('\n') + '\n';
  await writeFile(join(dir, SUMS_FILE), text, { mode: 0o644 });
  return text;
}

/** Give every file and folder of the output the build's epoch as mtime, so archives of out/ are stable too. */
export async function pinTimes(dir: string, epoch: number): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = join(dir, entry.name);
    if (entry.isDirectory()) await pinTimes(full, epoch);
    if (!entry.isSymbolicLink()) await utimes(full, epoch, epoch);
  }
  await utimes(dir, epoch, epoch);
}
