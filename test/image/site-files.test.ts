/**
 * The site's own files (files:): the folder and the entries read from disk with hostile values, owners
 * resolved against the rootfs's account files, and obsbuild's own paths refused with both names.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmodSync, linkSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileBytes, type GeneratedFile } from '../../src/contracts/generated-file.js';
import { lintSiteFiles, siteFiles, SITE_FILES_LIMITS, type Accounts } from '../../src/image/site-files.js';
import { parseSite, type LoadedSite } from '../../src/site/load.js';
import { UserError } from '../../src/util/errors.js';
import { renderConfigTree } from '../../src/lvs/render.js';
import { repoRoot, runCli } from '../helpers/cli.js';

const NAT = readFileSync(join(repoRoot, 'test/fixtures/sites/nat-single.yaml'), 'utf8');
const ACCOUNTS: Accounts = {
  passwd: 'root:x:0:0:root:/root:/bin/bash\nwww-data:x:33:33:www-data:/var/www:/bin/sh\n',
  group: 'root:x:0:\nadm:x:4:\nwww-data:x:33:\n',
  whose: "the rootfs's",
};

/** A site folder in a fresh temp dir: the site file (NAT + `files`) and whatever `setup` puts beside it. */
function siteIn(files: string, setup: (dir: string) => void = () => {}): { loaded: LoadedSite; dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'obsbuild-site-files-'));
  setup(dir);
  const file = join(dir, 'obsbuild.yaml');
  const text = `${NAT}${files}`;
  writeFileSync(file, text);
  return { loaded: parseSite(text, file), dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The line number (1-based) of the first line of the site text containing `needle`. */
function lineOf(loaded: LoadedSite, needle: string): number {
  return readFileSync(loaded.file, 'utf8').split('\n').findIndex((l) => l.includes(needle)) + 1;
}

function refused(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof UserError, String(err));
    assert.equal(err.code, 'site-invalid');
    assert.match(err.message, pattern);
    return true;
  });
}

const byPath = (files: GeneratedFile[]) => new Map(files.map((f) => [f.path, f]));

test('entries and the folder: content, source, modes as given, owners by name from the rootfs, entries win', () => {
  const s = siteIn(
    `files:
  folder: rootfs-files
  entries:
    - { path: /etc/motd, content: "managed\\n" }
    - { path: /etc/default/agent, source: files/agent.conf, mode: "0640", owner: www-data, group: adm }
    - { path: /etc/issue.net, content: "from the entry\\n", mode: "600" }
`,
    (dir) => {
      mkdirSync(join(dir, 'rootfs-files/etc/agent'), { recursive: true });
      mkdirSync(join(dir, 'files'));
      writeFileSync(join(dir, 'files/agent.conf'), 'LEVEL=2\n');
      writeFileSync(join(dir, 'rootfs-files/etc/agent/run.sh'), '#!/bin/sh\n');
      chmodSync(join(dir, 'rootfs-files/etc/agent/run.sh'), 0o750);
      writeFileSync(join(dir, 'rootfs-files/etc/issue.net'), 'from the folder\n');
      chmodSync(join(dir, 'rootfs-files/etc'), 0o700);
    },
  );
  try {
    const files = byPath(siteFiles(s.loaded, ACCOUNTS));
    assert.deepEqual([...files.keys()], ['/etc', '/etc/agent', '/etc/agent/run.sh', '/etc/default/agent', '/etc/issue.net', '/etc/motd']);
    const motd = files.get('/etc/motd')!;
    assert.deepEqual([fileBytes(motd).toString(), motd.mode, motd.uid, motd.gid], ['managed\n', 0o644, 0, 0]);
    const agent = files.get('/etc/default/agent')!;
    assert.deepEqual([fileBytes(agent).toString(), agent.mode, agent.uid, agent.gid], ['LEVEL=2\n', 0o640, 33, 4]);
    const run = files.get('/etc/agent/run.sh')!;
    assert.deepEqual([run.type, run.mode, run.uid, run.gid], ['file', 0o750, 0, 0], 'folder files keep their permission bits, root:root');
    assert.deepEqual([files.get('/etc')!.type, files.get('/etc')!.mode], ['dir', 0o755], "directories are 0755 whatever the build host's mode");
    const issue = files.get('/etc/issue.net')!;
    assert.deepEqual([fileBytes(issue).toString(), issue.mode], ['from the entry\n', 0o600], 'the entry wins over the folder; "600" is octal');
  } finally {
    s.cleanup();
  }
});

test('a box path with .. is refused by the archive path-safety rule, naming the line', () => {
  const s = siteIn('files:\n  entries:\n    - { path: /etc/motd, content: x }\n');
  try {
    s.loaded.site.files.entries[0].path = '/etc/../x'; // past the schema, as a program building a Site could
    refused(() => siteFiles(s.loaded, ACCOUNTS), new RegExp(`obsbuild\\.yaml:${lineOf(s.loaded, 'path: /etc/motd')}: files\\.entries\\[0\\]\\.path: /etc/\\.\\./x has a \\.\\. component`));
  } finally {
    s.cleanup();
  }
});

test("a source escaping the site file's folder, by .. or through a symlink to /etc, is refused", () => {
  const s = siteIn('files:\n  entries:\n    - { path: /etc/x, source: files/passwd }\n', (dir) => {
    mkdirSync(join(dir, 'files'));
    symlinkSync('/etc/passwd', join(dir, 'files/passwd'));
  });
  try {
    refused(() => siteFiles(s.loaded, ACCOUNTS), /files\.entries\[0\]\.source: files\/passwd leads outside the site file's folder \(to \/etc\/passwd\)/);
  } finally {
    s.cleanup();
  }
  const d = siteIn('files:\n  entries:\n    - { path: /etc/x, source: files/x }\n');
  try {
    d.loaded.site.files.entries[0].source = '../../etc/passwd';
    refused(() => siteFiles(d.loaded, ACCOUNTS), /source: \.\.\/\.\.\/etc\/passwd leads outside the site file's folder/);
  } finally {
    d.cleanup();
  }
  const f = siteIn('files:\n  folder: root\n', (dir) => symlinkSync('/etc', join(dir, 'root')));
  try {
    refused(() => siteFiles(f.loaded, ACCOUNTS), /files\.folder: root leads outside the site file's folder \(to \/etc\)/);
  } finally {
    f.cleanup();
  }
});

test('a symlink in the folder is copied as a symlink, never followed (a link to /etc/shadow or to /etc stays a link)', () => {
  const s = siteIn('files:\n  folder: root\n', (dir) => {
    mkdirSync(join(dir, 'root/etc'), { recursive: true });
    symlinkSync('/etc/shadow', join(dir, 'root/etc/shadow-link'));
    symlinkSync('/etc', join(dir, 'root/etc/all'));
  });
  try {
    const files = byPath(siteFiles(s.loaded, ACCOUNTS));
    assert.deepEqual([...files.keys()], ['/etc', '/etc/all', '/etc/shadow-link']);
    assert.deepEqual([files.get('/etc/shadow-link')!.type, files.get('/etc/shadow-link')!.linkTarget, fileBytes(files.get('/etc/shadow-link')!).length], ['symlink', '/etc/shadow', 0]);
    assert.equal(files.get('/etc/all')!.linkTarget, '/etc');
  } finally {
    s.cleanup();
  }
});

test('a relative symlink above the root, or an entry through a symlink of the folder, is refused', () => {
  const up = siteIn('files:\n  folder: root\n', (dir) => {
    mkdirSync(join(dir, 'root/etc'), { recursive: true });
    symlinkSync('../../../host', join(dir, 'root/etc/up'));
  });
  try {
    refused(() => siteFiles(up.loaded, ACCOUNTS), /files\.folder root\/etc\/up: \/etc\/up: symlink to \.\.\/\.\.\/\.\.\/host, above the archive root/);
  } finally {
    up.cleanup();
  }
  const through = siteIn('files:\n  folder: root\n  entries:\n    - { path: /etc/all/motd, content: x }\n', (dir) => {
    mkdirSync(join(dir, 'root/etc'), { recursive: true });
    symlinkSync('/tmp', join(dir, 'root/etc/all'));
  });
  try {
    refused(() => siteFiles(through.loaded, ACCOUNTS), /files\.entries\[0\]: \/etc\/all\/motd: through the symlink etc\/all -> \/tmp/);
  } finally {
    through.cleanup();
  }
});

test('a FIFO, a socket or a device node in the folder is refused, named', () => {
  const fifo = siteIn('files:\n  folder: root\n', (dir) => {
    mkdirSync(join(dir, 'root'));
    execFileSync('mkfifo', [join(dir, 'root/pipe')]);
  });
  try {
    refused(() => siteFiles(fifo.loaded, ACCOUNTS), new RegExp(`obsbuild\\.yaml:${lineOf(fifo.loaded, 'folder:')}: files\\.folder root/pipe: is a FIFO`));
    assert.match(lintSiteFiles(fifo.loaded)[0].message, /is a FIFO/);
  } finally {
    fifo.cleanup();
  }
  if (process.getuid?.() !== 0) return; // mknod needs root
  const dev = siteIn('files:\n  folder: root\n', (dir) => {
    mkdirSync(join(dir, 'root/dev'), { recursive: true });
    execFileSync('mknod', [join(dir, 'root/dev/null2'), 'c', '1', '3']);
  });
  try {
    refused(() => siteFiles(dev.loaded, ACCOUNTS), /files\.folder root\/dev\/null2: is a character device/);
  } finally {
    dev.cleanup();
  }
});

test('a hard link in the folder or as a source is refused (its other name may be any file on the disk, the build host\'s /etc/shadow included)', () => {
  const secret = mkdtempSync(join(tmpdir(), 'obsbuild-site-files-secret-'));
  writeFileSync(join(secret, 'shadow'), 'root:$1$secret$:1::::::\n');
  try {
    const linked = siteIn('files:\n  folder: root\n  entries:\n    - { path: /etc/y, source: alone }\n', (dir) => {
      mkdirSync(join(dir, 'root/etc'), { recursive: true });
      linkSync(join(secret, 'shadow'), join(dir, 'root/etc/x'));
      writeFileSync(join(dir, 'alone'), 'one name\n');
    });
    try {
      refused(() => siteFiles(linked.loaded, ACCOUNTS), /files\.folder root\/etc\/x: is a hard link \(the file has 2 names\); put a copy of it here instead/);
    } finally {
      linked.cleanup();
    }
    const source = siteIn('files:\n  entries:\n    - { path: /etc/y, source: copy }\n', (dir) => linkSync(join(secret, 'shadow'), join(dir, 'copy')));
    try {
      refused(() => siteFiles(source.loaded, ACCOUNTS), /is a hard link/);
    } finally {
      source.cleanup();
    }
  } finally {
    rmSync(secret, { recursive: true, force: true });
  }
});

test('setuid, setgid or sticky bits are refused (folder and entries); a too big file, too deep a tree and too many files are refused naming the path', () => {
  const suid = siteIn('files:\n  folder: root\n', (dir) => {
    mkdirSync(join(dir, 'root/bin'), { recursive: true });
    writeFileSync(join(dir, 'root/bin/x'), 'x');
    chmodSync(join(dir, 'root/bin/x'), 0o4755);
  });
  try {
    refused(() => siteFiles(suid.loaded, ACCOUNTS), /files\.folder root\/bin\/x: mode 4755 has setuid, setgid or sticky bits/);
  } finally {
    suid.cleanup();
  }
  const entry = siteIn('files:\n  entries:\n    - { path: /etc/x, content: x }\n');
  try {
    entry.loaded.site.files.entries[0].mode = 0o2755;
    refused(() => siteFiles(entry.loaded, ACCOUNTS), /files\.entries\[0\]\.mode: 2755 has setuid, setgid or sticky bits/);
  } finally {
    entry.cleanup();
  }
  const big = siteIn('files:\n  entries:\n    - { path: /opt/big, source: big.bin }\n', (dir) => {
    writeFileSync(join(dir, 'big.bin'), '');
    truncateSync(join(dir, 'big.bin'), SITE_FILES_LIMITS.fileBytes + 1); // sparse: no disk used
  });
  try {
    refused(() => siteFiles(big.loaded, ACCOUNTS), new RegExp(`files\\.entries\\[0\\]\\.source: big\\.bin: ${SITE_FILES_LIMITS.fileBytes + 1} bytes is over the 16 MiB`));
  } finally {
    big.cleanup();
  }
  const many = siteIn('files:\n  folder: root\n', (dir) => {
    for (const sub of ['a', 'b']) {
      mkdirSync(join(dir, `root/etc/${sub}`), { recursive: true });
      for (let i = 0; i < 2; i++) writeFileSync(join(dir, `root/etc/${sub}/f${i}`), 'x');
    }
  });
  const wide = siteIn('files:\n  folder: root\n', (dir) => {
    mkdirSync(join(dir, 'root/etc'), { recursive: true });
    for (let i = 0; i < 5; i++) writeFileSync(join(dir, `root/etc/f${i}`), 'x');
  });
  const deep = siteIn('files:\n  folder: root\n', (dir) => mkdirSync(join(dir, 'root/a/b/c'), { recursive: true }));
  const savedDepth = SITE_FILES_LIMITS.depth;
  SITE_FILES_LIMITS.depth = 2;
  try {
    refused(() => siteFiles(deep.loaded, ACCOUNTS), /files\.folder root\/a\/b\/c: more than 2 directory levels deep/);
  } finally {
    SITE_FILES_LIMITS.depth = savedDepth;
    deep.cleanup();
  }
  const saved = SITE_FILES_LIMITS.entries;
  SITE_FILES_LIMITS.entries = 4;
  try {
    refused(() => siteFiles(many.loaded, ACCOUNTS), /files: more than 4 files, directories and links \(at files\.folder root\/etc\/b\/f1\)/);
    refused(() => siteFiles(wide.loaded, ACCOUNTS), /files\.folder root\/etc: more than 4 names in one directory/);
  } finally {
    SITE_FILES_LIMITS.entries = saved;
    many.cleanup();
    wide.cleanup();
  }
});

test('an owner or group not in the rootfs\'s /etc/passwd or /etc/group is a build error naming the line and the name', () => {
  const s = siteIn('files:\n  entries:\n    - { path: /etc/x, content: x, owner: nagios }\n    - { path: /etc/y, content: y, group: nagios }\n');
  try {
    refused(() => siteFiles(s.loaded, ACCOUNTS), new RegExp(`obsbuild\\.yaml:${lineOf(s.loaded, 'owner: nagios')}: files\\.entries\\[0\\]: user nagios is not in the rootfs's /etc/passwd`));
    assert.equal(siteFiles(s.loaded, null)[0].uid, undefined, 'day two leaves owners unresolved');
  } finally {
    s.cleanup();
  }
  const g = siteIn('files:\n  entries:\n    - path: /etc/y\n      content: y\n      owner: www-data\n      group: nagios\n');
  try {
    refused(() => siteFiles(g.loaded, ACCOUNTS), new RegExp(`obsbuild\\.yaml:${lineOf(g.loaded, 'group: nagios')}: files\\.entries\\[0\\]: group nagios is not in the rootfs's /etc/group`));
    refused(() => siteFiles(g.loaded, { passwd: undefined, group: undefined, whose: "the rootfs's" }), /user www-data: the rootfs's \/etc\/passwd is missing/);
  } finally {
    g.cleanup();
  }
});

test('lint names every files: problem, each on its own site file line; the build stops at the first', () => {
  const s = siteIn(
    'files:\n  entries:\n' +
      '    - { path: /etc/ok, content: fine }\n' +
      '    - { path: /etc/one, source: missing.txt }\n' +
      '    - { path: /etc/two, source: gone.txt }\n' +
      '    - { path: /etc/network/interfaces, content: x }\n' +
      '    - { path: /etc/ok/inner, content: x }\n',
  );
  try {
    const findings = lintSiteFiles(s.loaded);
    assert.deepEqual(
      findings.map((f) => f.line),
      [lineOf(s.loaded, 'missing.txt'), lineOf(s.loaded, 'gone.txt'), lineOf(s.loaded, '/etc/network/interfaces'), lineOf(s.loaded, '/etc/ok/inner')],
    );
    assert.match(findings[0].message, /files\.entries\[1\]\.source: cannot read missing\.txt/);
    assert.match(findings[1].message, /files\.entries\[2\]\.source: cannot read gone\.txt/);
    assert.match(findings[2].message, /\/etc\/network\/interfaces is obsbuild's own/);
    assert.match(findings[3].message, /files\.entries\[4\]: \/etc\/ok\/inner is under \/etc\/ok, which files: makes a regular file/);
    refused(() => siteFiles(s.loaded, ACCOUNTS), new RegExp(`obsbuild\\.yaml:${lineOf(s.loaded, 'missing.txt')}: files\\.entries\\[1\\]\\.source`));
  } finally {
    s.cleanup();
  }
});

test('a file obsbuild generates, targeted by files:, is a lint error naming the site file line and the generated file', async () => {
  const s = siteIn('files:\n  entries:\n    - { path: /etc/motd, content: x }\n    - { path: /etc/network/interfaces, content: "auto lo\\n" }\n');
  try {
    const findings = lintSiteFiles(s.loaded);
    assert.deepEqual(findings.map((f) => [f.severity, f.rule, f.line]), [['error', 'files', lineOf(s.loaded, '/etc/network/interfaces')]]);
    assert.match(findings[0].message, /files\.entries\[1\]: \/etc\/network\/interfaces is obsbuild's own \/etc\/network\/interfaces \(the network interfaces, rendered from network:\)/);
    refused(() => siteFiles(s.loaded, ACCOUNTS), /\/etc\/network\/interfaces is obsbuild's own/);
    const r = await runCli(['lint', '--site', s.loaded.file]);
    assert.equal(r.exitCode, 1);
    assert.match(String(r.stdout), new RegExp(`obsbuild\\.yaml:${lineOf(s.loaded, '/etc/network/interfaces')}: error: files\\.entries\\[1\\]: /etc/network/interfaces is obsbuild's own .* \\[files\\]`));
  } finally {
    s.cleanup();
  }
  for (const [files, pattern] of [
    ['    - { path: /etc/obsbuild/manifest-id, content: x }\n', /obsbuild's own \/etc\/obsbuild \(obsbuild's own state/],
    ['    - { path: /etc/init.d/obsbuild-firstboot, content: x }\n', /the first-boot script/],
    ['    - { path: /var/lib/obsbuild/debconf-selections, content: x }\n', /debconf answers/],
    ['    - { path: /etc/keepalived, content: x }\n', /a file at \/etc\/keepalived would replace the directory holding obsbuild's own \/etc\/keepalived\/keepalived\.conf/],
    ['    - { path: /etc/shadow, content: x }\n', /root\.password_hash/],
  ] as const) {
    const t = siteIn(`files:\n  entries:\n${files}`);
    try {
      assert.match(lintSiteFiles(t.loaded)[0]?.message ?? 'no finding', pattern);
    } finally {
      t.cleanup();
    }
  }
});

test('the build refuses a site file over any file it generates for the node, even one not in the fixed list', () => {
  const s = siteIn('files:\n  entries:\n    - { path: /etc/generated-later, content: x }\n');
  try {
    const generated: GeneratedFile[] = [...renderConfigTree(s.loaded.site), { path: '/etc/generated-later', content: 'y', mode: 0o644 }];
    refused(() => siteFiles(s.loaded, ACCOUNTS, generated), /files\.entries\[0\]: \/etc\/generated-later is a file obsbuild generates for this node; files: cannot replace it/);
    const under: GeneratedFile[] = [{ path: '/etc/generated-later/conf', content: 'y', mode: 0o644 }];
    refused(() => siteFiles(s.loaded, ACCOUNTS, under), /would be a file where obsbuild needs the directory holding \/etc\/generated-later\/conf/);
  } finally {
    s.cleanup();
  }
});

test('obsbuild render --out writes the site\'s own files beside the rendered ones (symlinks as links)', async () => {
  const s = siteIn('files:\n  folder: root\n  entries:\n    - { path: /etc/motd, content: "hello\\n", mode: "0600" }\n', (dir) => {
    mkdirSync(join(dir, 'root/etc'), { recursive: true });
    symlinkSync('/etc/shadow', join(dir, 'root/etc/link'));
  });
  try {
    const out = join(s.dir, 'out');
    const r = await runCli(['render', '--site', s.loaded.file, '--out', out]);
    assert.equal(r.exitCode, 0, String(r.stderr));
    assert.equal(readFileSync(join(out, 'etc/motd'), 'utf8'), 'hello\n');
    assert.equal(statSync(join(out, 'etc/motd')).mode & 0o777, 0o600);
    assert.equal(readlinkSync(join(out, 'etc/link')), '/etc/shadow');
    assert.match(readFileSync(join(out, 'etc/keepalived/keepalived.conf'), 'utf8'), /virtual_server/);
  } finally {
    s.cleanup();
  }
});
