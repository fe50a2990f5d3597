import { formatSize } from './device.js';
import type { FlashPhase, FlashProgress } from './write.js';

/**
 * Progress of a flash on stderr: a redrawn bar with bytes, speed and ETA on a terminal, plain
 * lines (phase changes and one every few seconds) otherwise, so logs stay readable.
 */
export interface ProgressRenderer {
  update(p: FlashProgress): void;
  finish(): void;
}

export function formatProgressLine(p: FlashProgress, elapsedSeconds: number, width = 30): string {
  if (p.total <= 0) return `${p.phase}…`;
  const frac = Math.min(1, p.done / p.total);
  const filled = Math.round(frac * width);
  const speed = elapsedSeconds > 0 ? p.done / elapsedSeconds : 0;
  const eta = speed > 0 ? Math.ceil((p.total - p.done) / speed) : undefined;
  const bar = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}]`;
  return (
    `${p.phase.padEnd(14)} ${bar} ${String(Math.floor(frac * 100)).padStart(3)}% ` +
    `${formatSize(p.done)} / ${formatSize(p.total)}  ${formatSize(speed)}/s  ETA ${eta === undefined ? '?' : `${eta}s`}`
  );
}

export function progressRenderer(stream: NodeJS.WriteStream = process.stderr, interval = { tty: 100, plain: 3000 }): ProgressRenderer {
  const tty = stream.isTTY === true;
  let phase: FlashPhase | undefined;
  let phaseStart = 0;
  let lastDraw = 0;
  let last: FlashProgress | undefined;
  let lastDrawn = false;
  const draw = (p: FlashProgress) => {
    lastDrawn = p === last;
    const line = formatProgressLine(p, (performance.now() - phaseStart) / 1000);
    if (tty) stream.write(`\r\x1b[K${line}`);
    else stream.write(`${line}\n`);
    lastDraw = performance.now();
  };
  return {
    update(p) {
      if (p.phase !== phase) {
        if (last && last.total > 0 && !lastDrawn) draw(last); // close the previous phase at its final figure
        if (tty && phase !== undefined) stream.write('\n');
        phase = p.phase;
        phaseStart = performance.now();
        last = p;
        draw(p);
        return;
      }
      last = p;
      lastDrawn = false;
      const now = performance.now();
      if (now - lastDraw >= (tty ? interval.tty : interval.plain) || (p.done === p.total && p.total > 0)) draw(p);
    },
    finish() {
      if (tty && phase !== undefined) stream.write('\n');
    },
  };
}

export interface MultiProgressRenderer {
  update(index: number, p: FlashProgress): void;
  finish(): void;
}

/**
 * One progress line per target. On a terminal the block of lines is redrawn in place (cursor up N);
 * otherwise each target logs as the single-target renderer does, its lines prefixed with the device.
 */
export function multiProgressRenderer(devices: readonly string[], stream: NodeJS.WriteStream = process.stderr, intervalMs = 200): MultiProgressRenderer {
  const width = Math.max(...devices.map((d) => d.length));
  if (stream.isTTY !== true) {
    const each = devices.map((d) =>
      progressRenderer({ isTTY: false, write: (s: string) => stream.write(`${d.padEnd(width)}  ${s}`) } as unknown as NodeJS.WriteStream),
    );
    return { update: (i, p) => each[i].update(p), finish: () => undefined };
  }
  const state: (FlashProgress | undefined)[] = devices.map(() => undefined);
  const started: number[] = devices.map(() => performance.now());
  let drawn = false;
  let lastDraw = 0;
  const draw = () => {
    if (drawn) stream.write(`\x1b[${devices.length}A`);
    for (let i = 0; i < devices.length; i++) {
      const p = state[i];
      const line = p ? formatProgressLine(p, (performance.now() - started[i]) / 1000, 20) : 'waiting…';
      stream.write(`\r\x1b[K${devices[i].padEnd(width)}  ${line}\n`);
    }
    drawn = true;
    lastDraw = performance.now();
  };
  return {
    update(i, p) {
      if (state[i]?.phase !== p.phase) started[i] = performance.now();
      state[i] = p;
      if (performance.now() - lastDraw >= intervalMs) draw();
    },
    finish() {
      draw();
    },
  };
}
