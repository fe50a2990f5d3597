import { Expecter } from '../console/expect.js';
import { Shell, type CommandResult } from '../console/shell.js';
import { SerialTransport } from '../console/transport.js';
import { UserError } from '../util/errors.js';

/**
 * A root shell on the virtual board's serial console, through the console helper's own layers (transport,
 * expecter, shell driver with exit-status markers): what the traffic test drives the guest with.
 */
export interface GuestShell {
  run(command: string, timeoutMs?: number): Promise<CommandResult>;
  /** Run and throw with the output when the exit status is not 0. */
  must(command: string, timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

export async function openGuestShell(pty: string, opts: { password: string; onData?: (b: Buffer) => void }): Promise<GuestShell> {
  const transport = new SerialTransport({ path: pty, baudRate: 115200 });
  const expecter = new Expecter();
  transport.on('data', (b: Buffer) => {
    expecter.feed(b);
    opts.onData?.(b);
  });
  await transport.open();
  const shell = new Shell({ expecter, send: (s) => transport.write(s) });
  try {
    await shell.login({ user: 'root', password: opts.password, timeoutMs: 60_000 });
    await shell.setup();
  } catch (err) {
    await transport.close();
    throw err;
  }
  return {
    run: (command, timeoutMs) => shell.run(command, timeoutMs),
    async must(command, timeoutMs) {
      const r = await shell.run(command, timeoutMs);
      // A one-line error for the user (exit 1), not an internal error: the guest refused a step of the test.
      if (r.exitCode !== 0) throw new UserError(`virtual board: \`${command}\` exited ${r.exitCode}: ${r.output.trim().replace(/\s*\n\s*/g, ' | ').slice(-400)}`, { code: 'box-failed' });
      return r.output;
    },
    close: () => transport.close(),
  };
}
