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
