import type { Command } from 'commander';
import { startSpinner } from '../util/spinner.js';
import { action } from './action.js';
import { describeElf } from '../inputs/elf.js';
import { inspectInputs, type InputsReport } from '../inputs/inspect.js';
import { DEFAULT_INPUTS_DIR, DOWNLOAD_PAGE } from '../inputs/names.js';
import { inputExpectations } from '../site/board.js';
import { loadSite } from '../site/load.js';

export function register(program: Command): void {
  program
    .command('inspect')
    .description(
      "check Plat'Home's files (rootfs tarball, uImage.initrd-cfboot, kern.tgz) and say what they are: " +
        'Debian version, architecture, kernel and modules versions, ip_vs',
    )
    .option('--inputs <dir>', "folder holding Plat'Home's files", DEFAULT_INPUTS_DIR)
    .option('--site <file>', "check against this site file's board and packages (default: the OBS600, powerpc, lenny)")
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `\nThe files come from Plat'Home's OBS600 page ${DOWNLOAD_PAGE}.\n` +
        'Every file is read once, as a stream; nothing is extracted. Exit 1 when a file is missing, damaged,\n' +
        'for another architecture or Debian release, or when the modules do not match the kernel.',
    )
    .action(
      action(async (opts: { inputs: string; site?: string; json?: boolean }) => {
        const site = opts.site ? (await loadSite(opts.site)).site : undefined;
        const spinner = opts.json ? undefined : await startSpinner(`checking ${opts.inputs}`, process.stdout);
        let report: InputsReport;
        try {
          report = await inspectInputs(opts.inputs, {
            ...(site && inputExpectations(site)),
            onProgress: spinner
              ? (done, total) => {
                  spinner.text = `checking ${opts.inputs}: ${mb(done)} of ${mb(total)} MB`;
                }
              : undefined,
          });
        } catch (err) {
          spinner?.stop();
          throw err;
        }
        spinner?.stop();
        process.stdout.write(opts.json ? JSON.stringify(toJson(report), null, 2) + '\n' : summary(report));
      }),
    );
}

function mb(bytes: number): string {
  return (bytes / 1e6).toFixed(1);
}

/** The report without the captured file contents (/etc/shadow has no business on stdout). */
function toJson(r: InputsReport) {
  const { files: captured, ...rootfs } = r.rootfs;
  return { ...r, rootfs: { ...rootfs, capturedFiles: Object.keys(captured).sort() } };
}

const hex32 = (n: number) => '0x' + n.toString(16).padStart(8, '0');

export function summary(r: InputsReport): string {
  const out: string[] = [`inputs: ${r.dir}`];
  const file = (f: { name: string; size: number; sha256: string }) =>
    `  ${f.name}  ${f.size.toLocaleString('en-US')} bytes  sha256 ${f.sha256}`;

  const rf = r.rootfs;
  out.push(file(r.files.rootfs));
  const archs = Object.entries(rf.dpkgArchitectures).map(([a, n]) => `${n} ${a}`).join(', ');
  out.push(`    Debian ${r.debianVersion ?? '(unknown)'}${r.suite ? ` (${r.suite})` : ''}, ${r.arch ?? 'unknown architecture'}: ${rf.installedPackages} packages installed (${archs})`);
  if (rf.shell) {
    const chain = rf.shell.chain.map((p) => '/' + p).join(' -> ');
    out.push(`    ${chain}: ${rf.shell.elf ? describeElf(rf.shell.elf) : 'not an ELF binary'}`);
  }
  if (rf.rootHasStockPassword !== undefined) {
    out.push(`    root password: ${rf.rootHasStockPassword ? 'the stock root/root (obsbuild image replaces it)' : 'not the stock one'}`);
  }
  out.push(`    ${rf.entries} entries, ${mb(rf.tarBytes)} MB uncompressed, gzip and tar intact`);

  const u = r.uimage;
  const h = u.header;
  out.push(file(r.files.uimage));
  out.push(`    "${h.name}": ${h.archName} ${h.osName} ${h.typeName} (${h.compName})`);
  out.push(`    created ${new Date(h.time * 1000).toISOString().replace('.000Z', 'Z')}, load ${hex32(h.load)}, entry ${hex32(h.entry)}, header and data CRC ok`);
  if (u.parts.length > 0) {
    out.push(`    parts: ${u.parts.map((p) => `${p.role} ${p.size.toLocaleString('en-US')} bytes (${p.content})`).join(', ')}`);
  }
  out.push(`    kernel ${r.kernelVersion} (from ${u.kernelVersionSource === 'kernel' ? 'the kernel\'s "Linux version" banner' : 'the image name'})`);

  const k = r.kernTgz;
  out.push(file(r.files.kernTgz));
  out.push(
    `    lib/modules/${k.modulesVersion}/: ${k.moduleCount} modules, ${k.hasModulesDep ? 'modules.dep' : 'no modules.dep'}, ` +
      (k.ipVsPath ? `ip_vs.ko at /${k.ipVsPath}` : 'no ip_vs.ko'),
  );

  if (r.warnings.length > 0) {
    out.push('warnings:');
    for (const w of r.warnings) out.push(`  ${w}`);
  }
  out.push(
    `ok: Debian ${r.debianVersion ?? '?'} ${r.arch ?? '?'}, kernel ${r.kernelVersion} with matching modules, ` +
      (r.ipVs ? 'ip_vs present' : 'ip_vs MISSING'),
  );
  return out.join('\n') + '\n';
}
