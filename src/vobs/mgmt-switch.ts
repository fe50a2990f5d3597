import { createSocket, type Socket } from 'node:dgram';
import { ipToInt } from '../site/ipv4.js';

/**
 * The switch port between the board's eth0 wire and QEMU's user network. A QEMU hub repeats every frame to
 * every port, and QEMU's user network takes every IPv4 frame it is given as its own guest's traffic: in
 * restricted mode it answers each TCP segment it has no socket for with a reset, in the name of the
 * segment's destination. On the shared wire that resets the traffic test's connections (and would the
 * admin LAN's, were it real). A switch delivers to the admin's PC only what is addressed to it; so does this.
 *
 *   hub 0 (eth0's wire) --UDP--> here: only frames to QEMU's own MACs or broadcast --UDP--> hub 2 (user net)
 *   hub 2 --UDP--> here: every frame --UDP--> hub 0
 *
 * Frames travel as QEMU's socket netdev sends them (one Ethernet frame per UDP datagram, on 127.0.0.1).
 */

/** The MAC QEMU's user network answers ARP with for one of its addresses: 52:55 and the address's bytes. */
export function userNetMac(address: string): Buffer {
  const n = ipToInt(address);
  if (n === undefined) throw new Error(`userNetMac: ${address} is not an IPv4 address`);
  return Buffer.from([0x52, 0x55, Math.floor(n / 2 ** 24) % 256, Math.floor(n / 2 ** 16) % 256, Math.floor(n / 256) % 256, n % 256]);
}

const BROADCAST = Buffer.alloc(6, 0xff);

/** Whether a frame from the wire goes to the user network: addressed to one of `macs`, or broadcast (ARP). */
export function forUserNet(frame: Buffer, macs: Buffer[]): boolean {
  if (frame.length < 14) return false;
  const dst = frame.subarray(0, 6);
  return dst.equals(BROADCAST) || macs.some((m) => dst.equals(m));
}

export interface SwitchPorts {
  /** where QEMU's wire-side socket netdev sends, and where it listens */
  wire: { switchPort: number; qemuPort: number };
  /** the same for the user-network side */
  net: { switchPort: number; qemuPort: number };
}

async function bound(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    s.once('error', reject);
    s.bind(0, '127.0.0.1', () => resolve());
  });
  return s;
}

export class MgmtSwitch {
  private constructor(
    private readonly wire: Socket,
    private readonly net: Socket,
    readonly ports: SwitchPorts,
  ) {}

  /** Opens the switch's two sockets and picks the two ports QEMU listens on (free right now). */
  static async open(qemuAddresses: string[]): Promise<MgmtSwitch> {
    const macs = qemuAddresses.map(userNetMac);
    const wire = await bound();
    const net = await bound();
    // QEMU's own ends: ports free on 127.0.0.1 now (bound and released); QEMU binds them when it starts.
    const probeA = await bound();
    const probeB = await bound();
    const ports: SwitchPorts = {
      wire: { switchPort: wire.address().port, qemuPort: probeA.address().port },
      net: { switchPort: net.address().port, qemuPort: probeB.address().port },
    };
    probeA.close();
    probeB.close();
    // Only QEMU's own ends may put frames on the wires, not any other process on this host.
    wire.on('message', (frame, from) => {
      if (from.port === ports.wire.qemuPort && forUserNet(frame, macs)) net.send(frame, ports.net.qemuPort, '127.0.0.1');
    });
    net.on('message', (frame, from) => {
      if (from.port === ports.net.qemuPort) wire.send(frame, ports.wire.qemuPort, '127.0.0.1');
    });
    // A datagram to a port QEMU no longer listens on (it has exited) is not an error worth stopping for.
    wire.on('error', () => undefined);
    net.on('error', () => undefined);
    return new MgmtSwitch(wire, net, ports);
  }

  private closed = false;

  /** Idempotent: called when QEMU exits and again by quit(). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.wire.close();
    this.net.close();
  }
}
