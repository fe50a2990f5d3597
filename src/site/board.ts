import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { assetPath } from '../util/assets.js';
import type { Board, Site } from './model.js';

/**
 * Board facts kept as data in board/<name>/board.json (sources in docs/reference/obs600.md). A board is
 * whatever has such a file: the product knows no board by name, so a new board model is a new folder.
 */
export interface BoardFacts {
  board: string;
  dpkgArchitecture: string;
  suite: string;
  cfDevice: string;
  cfRootLabel: string;
  stickLabel: string;
  stickFolder: string;
  kernelImage: string;
  /** Parts of the multi-file uImage the board's U-Boot boots (OBS600: kernel, ramdisk, device tree). */
  uimageParts: number;
  modulesArchive: string;
  rootfsPattern: string;
  serial: { baud: number; dataBits: number; parity: string; stopBits: number; flowControl: string };
  loginPrompt: string;
  stockRootHash: string;
  firstbootRunlevels: number[];
  /** The board's NTP daemon for `ntp:`: the package layered from the mirror and its config dialect (src/site/services.ts). */
  ntp: { package: string; dialect: string };
}

/** The boards obsbuild ships facts for, sorted: the values `board:` in a site file may take. */
export function knownBoards(): string[] {
  return readdirSync(assetPath('board'), { withFileTypes: true })
    .filter((e) => e.isDirectory() && existsSync(assetPath(`board/${e.name}/board.json`)))
    .map((e) => e.name)
    .sort();
}

export function boardFacts(board: Board): BoardFacts {
  // Each board reads its own facts: vobs shares the OBS600's layout but is amd64/bookworm inside.
  return JSON.parse(readFileSync(assetPath(`board/${board}/board.json`), 'utf8')) as BoardFacts;
}

/** What Plat'Home's files must be for a site: its packages' architecture and Debian release, its board's uImage. */
export function inputExpectations(site: Site): { expectArch: string; expectSuite: string; expectUImageParts: number } {
  return { expectArch: site.packages.arch, expectSuite: site.packages.suite, expectUImageParts: boardFacts(site.board).uimageParts };
}
