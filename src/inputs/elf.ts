/** The few ELF header fields that say which machine a binary is for (System V ABI, e_ident + e_machine). */

export interface ElfIdentity {
  /** 32 or 64 (EI_CLASS). */
  bits: 32 | 64;
  /** EI_DATA. */
  endian: 'big' | 'little';
  /** e_machine. */
  machine: number;
  machineName: string;
  /** The Debian architecture this combination is, when there is exactly one. */
  debianArch?: string;
}

/** Bytes needed to read the identity (e_ident[16] + e_type[2] + e_machine[2]). */
export const ELF_HEAD_BYTES = 20;

const MACHINES: Record<number, string> = {
  2: 'SPARC',
  3: 'Intel 80386',
  8: 'MIPS',
  20: 'PowerPC',
  21: 'PowerPC64',
  22: 'IBM S/390',
  40: 'ARM',
  43: 'SPARC V9',
  50: 'IA-64',
  62: 'x86-64',
  183: 'AArch64',
  243: 'RISC-V',
};

function debianArchOf(machine: number, bits: number, endian: string): string | undefined {
  const key = `${machine}/${bits}/${endian}`;
  const table: Record<string, string> = {
    '20/32/big': 'powerpc',
    '21/64/big': 'ppc64',
    '21/64/little': 'ppc64el',
    '62/64/little': 'amd64',
    '3/32/little': 'i386',
    '183/64/little': 'arm64',
    '8/32/big': 'mips',
    '8/32/little': 'mipsel',
    '22/64/big': 's390x',
    '50/64/little': 'ia64',
    '2/32/big': 'sparc',
    '43/64/big': 'sparc64',
    '243/64/little': 'riscv64',
  };
  // ARM 32-bit is armel or armhf depending on the ABI flags; say "arm" rather than guess.
  if (machine === 40 && bits === 32) return endian === 'little' ? 'arm' : undefined;
  return table[key];
}

/** Parse an ELF identity, or undefined when the bytes are not an ELF header. */
export function parseElfIdentity(head: Buffer): ElfIdentity | undefined {
  if (head.length < ELF_HEAD_BYTES) return undefined;
  if (head[0] !== 0x7f || head[1] !== 0x45 || head[2] !== 0x4c || head[3] !== 0x46) return undefined;
  const cls = head[4];
  const data = head[5];
  if ((cls !== 1 && cls !== 2) || (data !== 1 && data !== 2)) return undefined;
  const bits = cls === 1 ? 32 : 64;
  const endian = data === 1 ? 'little' : 'big';
  const machine = endian === 'big' ? head.readUInt16BE(18) : head.readUInt16LE(18);
  return {
    bits,
    endian,
    machine,
    machineName: MACHINES[machine] ?? `machine ${machine}`,
    debianArch: debianArchOf(machine, bits, endian),
  };
}

export function describeElf(id: ElfIdentity): string {
  return `ELF ${id.bits}-bit ${id.endian === 'big' ? 'MSB' : 'LSB'} ${id.machineName}`;
}
