import { readFileSync } from 'node:fs';
import { assetPath } from '../util/assets.js';
import type { Board, Site } from '../site/model.js';

/** Board facts kept as data in board/<name>/board.json (sources in docs/reference/obs600.md). */
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
}

export function boardFacts(board: Board): BoardFacts {
  // Each board reads its own facts: vobs shares the OBS600's layout but is amd64/bookworm inside.
  return JSON.parse(readFileSync(assetPath(`board/${board}/board.json`), 'utf8')) as BoardFacts;
}

/** What Plat'Home's files must be for a site: its packages' architecture and Debian release, its board's uImage. */
export function inputExpectations(site: Site): { expectArch: string; expectSuite: string; expectUImageParts: number } {
  return { expectArch: site.packages.arch, expectSuite: site.packages.suite, expectUImageParts: boardFacts(site.board).uimageParts };
}
