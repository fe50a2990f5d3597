import { Option, type Command } from 'commander';
import { action } from './action.js';
import { UsageError } from '../util/errors.js';
import { buildImages, summarize, verifyBuild, type ImageOptions } from '../image/pipeline.js';
import { reporterFor } from '../image/progress.js';
import { exposeGc } from '../image/memory.js';
import type { StickFs } from '../stick/diskimage.js';
import { checkStickDir, copyToStickDir } from '../stick/stickdir.js';
import { boardFacts } from '../site/board.js';
import { join } from 'node:path';
import { siteNodes } from '../site/nodes.js';

interface ImageFlags {
  profile: string;
  site: string;
  node?: string;
  inputs: string;
  packages?: string;
  mirror?: string;
  out: string;
  cache?: string;
  keyring?: string[];
  allowUnsigned?: boolean;
  fs: StickFs;
  stickDir?: string;
  json?: boolean;
}

export function register(program: Command): void {
  program
    .command('image')
    .description(
      "build out/<hostname>/ from Plat'Home's files and the site file: stick/msf/ (the three files byte for byte, " +
        'obsbuild-overlay.tgz with keepalived/ipvsadm, configuration and a first-boot script), manifest.json, SHA256SUMS',
    )
    .addOption(new Option('--profile <name>', 'what to build').choices(['lb']).default('lb'))
    .option('--site <file>', 'site file', 'obsbuild.yaml')
    .addOption(new Option('--node <role>', 'build only this member of an HA pair').choices(['master', 'backup']))
    .option('--inputs <dir>', "folder with Plat'Home's rootfs tarball, uImage.initrd-cfboot and kern.tgz", 'inputs')
    .option('--packages <dir>', 'folder of .deb files (with or without a Packages index)')
    .option('--mirror <url>', 'Debian archive with dists/<suite>/main/binary-<arch>/Packages.gz (default: the site\'s packages.mirror)')
    .option('--out <dir>', 'output folder; each appliance gets <out>/<hostname>/', 'out')
    .option('--cache <dir>', 'download cache for --mirror (default $XDG_CACHE_HOME/obsbuild)')
    .option(
      '--keyring <file>',
      "a keyring to check the mirror's Release signature with (repeatable; default: Debian's archive keys, removed ones included)",
      (file: string, all: string[] = []) => [...all, file],
    )
    .option('--allow-unsigned', "use a mirror whose Release file is missing, unsigned or not signed by a known key (warns; packages are then checked only against the mirror's own index)")
    .addOption(new Option('--fs <type>', 'filesystem of stick.img').choices(['ext3', 'ext2', 'vfat']).default('ext3'))
    .option('--stick-dir <mountpoint>', 'also copy msf/ onto a stick you formatted and labelled MSF yourself (mount and label checked before the build; an msf/ already there is replaced only if it holds nothing but files obsbuild writes)')
    .option('--json', 'print a machine-readable summary on stdout (progress goes to stderr)')
    .addHelpText(
      'after',
      '\nReproducible: set SOURCE_DATE_EPOCH, else the time comes from the rootfs tarball (its gzip header, or the\n' +
        'date in its name); the same inputs always give byte-identical output. A failed build leaves the\n' +
        'previous out/<hostname>/ untouched, and a <hostname>/ folder without a manifest.json (not an earlier\n' +
        'build\'s) is refused, never replaced.\n' +
        '\nWith --mirror, the suite\'s Release file must be signed (Release.gpg, checked with gpgv against Debian\'s\n' +
        'archive keys or --keyring); its checksums vouch for the index, and the index\'s for every .deb.',
    )
    .action(
      action(async (flags: ImageFlags) => {
        if (flags.packages && flags.mirror) throw new UsageError('use either --packages or --mirror, not both');
        const options: ImageOptions = {
          profile: flags.profile,
          siteFile: flags.site,
          node: flags.node as ImageOptions['node'],
          inputsDir: flags.inputs,
          packagesDir: flags.packages,
          mirror: flags.mirror,
          outDir: flags.out,
          cacheDir: flags.cache,
          keyrings: flags.keyring,
          allowUnsigned: flags.allowUnsigned,
          env: process.env,
          fs: flags.fs,
          // A build streams hundreds of MB: collecting as it goes keeps its peak memory flat (see memory.ts).
          collectGarbage: exposeGc(),
        };
        const progressStream = flags.json ? process.stderr : process.stdout;
        // The output folders are checked before the build, not after it (see verifyBuild).
        const verified = await verifyBuild(options);
        const { siteLoad } = verified;
        if (flags.stickDir && !flags.node && 'loaded' in siteLoad && siteNodes(siteLoad.loaded.site).length > 1) {
          // One stick per appliance: refuse before building when the site is an HA pair.
          throw new UsageError('--stick-dir takes one appliance: add --node master or --node backup');
        }
        // The stick's mount, filesystem and label are checked before the build, not after it.
        if (flags.stickDir && 'loaded' in siteLoad) await checkStickDir(flags.stickDir, { label: boardFacts(siteLoad.loaded.site.board).stickLabel });
        const reporter = await reporterFor(progressStream);
        const built = await buildImages(verified, reporter);
        const summary = summarize(built);
        if (flags.stickDir) {
          if (summary.outputs.length !== 1) throw new UsageError('--stick-dir takes one appliance: add --node master or --node backup');
          const { board } = built.build;
          const msf = join(summary.outputs[0].dir, 'stick', board.stickFolder);
          const copied = await copyToStickDir(msf, flags.stickDir, { label: board.stickLabel });
          if (!flags.json) process.stdout.write(`copied ${copied.bytes} bytes to ${copied.target}\n`);
        }
        if (flags.json) {
          process.stdout.write(JSON.stringify(summary, null, 2) + '\n');
        } else {
          for (const o of summary.outputs) process.stdout.write(`built ${o.dir} (manifest ${o.manifestId})\n`);
        }
      }),
    );
}
