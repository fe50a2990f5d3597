import type { Ora } from 'ora';
import { canSpin } from '../util/spinner.js';
import type { Reporter, StepProgress } from './recipe.js';

/**
 * Progress for the build: an ora spinner per step with byte counts when stdout is a terminal, plain
 * lines otherwise (one when a step ends, none while it runs), nothing at all for --quiet use.
 */

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(1)} ${units[i]}`;
}

type OraFactory = typeof import('ora').default;

export class SpinnerReporter implements Reporter {
  private spinner?: Ora;
  private notes = new Map<string, string>();
  constructor(
    private readonly stream: NodeJS.WriteStream,
    private readonly ora: OraFactory,
  ) {}
  begin(label: string): StepProgress {
    this.spinner = this.ora({ text: label, stream: this.stream }).start();
    const spinner = this.spinner;
    return {
      bytes: (done, total) => {
        const pct = total > 0 ? ` ${Math.floor((done / total) * 100)}%` : '';
        spinner.text = `${label}: ${formatBytes(done)} / ${formatBytes(total)}${pct}`;
      },
      note: (text) => {
        this.notes.set(label, text);
        spinner.text = `${label}: ${text}`;
      },
      warn: (text) => {
        spinner.clear();
        this.stream.write(`warning: ${text}\n`);
        spinner.render();
      },
    };
  }
  succeed(label: string): void {
    const note = this.notes.get(label);
    this.spinner?.succeed(note ? `${label}: ${note}` : label);
  }
  fail(label: string): void {
    this.spinner?.fail(label);
  }
}

export class LineReporter implements Reporter {
  private notes = new Map<string, string>();
  constructor(private readonly stream: NodeJS.WritableStream) {}
  begin(label: string): StepProgress {
    return {
      bytes: () => {},
      note: (text) => this.notes.set(label, text),
      warn: (text) => this.stream.write(`warning: ${text}\n`),
    };
  }
  succeed(label: string): void {
    const note = this.notes.get(label);
    this.stream.write(`${label}: ${note ?? 'ok'}\n`);
  }
  fail(label: string): void {
    this.stream.write(`${label}: FAILED\n`);
  }
}

export const silentReporter: Reporter = {
  begin: () => ({ bytes: () => {}, note: () => {}, warn: () => {} }),
  succeed: () => {},
  fail: () => {},
};

/** Spinners when `stream` can show them (see canSpin), plain lines otherwise. ora is loaded only when used. */
export async function reporterFor(stream: NodeJS.WriteStream): Promise<Reporter> {
  if (canSpin(stream)) {
    const { default: ora } = await import('ora');
    return new SpinnerReporter(stream, ora);
  }
  return new LineReporter(stream);
}
