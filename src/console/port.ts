/**
 * Which transport a `--port` value means: a local serial device or pty, or a console server URL
 * (`rfc2217://host:port`, `tcp://host:port`). Every command that takes --port goes through here.
 */
import { NetworkTransport, parseNetworkPort } from './network-transport.js';
import { choosePort, SerialTransport, type ConsoleTransport } from './transport.js';

/** The OpenBlockS 600's console speed (8N1, no flow control), the default wherever a port is opened. */
export const DEFAULT_BAUD = 115_200;

/** Why `baud` is not a serial rate the port could be set to, or null. */
export function baudProblem(baud: number): string | null {
  return Number.isInteger(baud) && baud >= 50 && baud <= 4_000_000 ? null : 'not a baud rate (a whole number from 50 to 4000000)';
}

export interface OpenedPort {
  /** What to call the port in messages: the device path or the URL. */
  name: string;
  transport: ConsoleTransport;
}

/** Resolves the port (the only USB adapter when none is given) and builds its transport, not yet opened. */
export async function consolePort(spec: string | undefined, baudRate: number, onNote?: (line: string) => void): Promise<OpenedPort> {
  const network = spec === undefined ? undefined : parseNetworkPort(spec);
  if (network) return { name: network.spec, transport: new NetworkTransport({ target: network, baudRate, onNote }) };
  const path = await choosePort(spec);
  return { name: path, transport: new SerialTransport({ path, baudRate }) };
}
