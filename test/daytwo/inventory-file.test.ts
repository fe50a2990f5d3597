/** The inventory file: its format, the BoxTargets it gives, and one-line `file:line:` errors for hostile input. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadInventory, MAX_BOXES, MAX_INVENTORY_BYTES, parseInventory } from '../../src/daytwo/inventory-file.js';
import { UserError } from '../../src/util/errors.js';
import { repoRoot } from '../helpers/cli.js';

const ctx = (dir: string) => ({ outDir: join(dir, 'out'), serialUser: 'root', serialPassword: 'pw' });

async function withDir(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'obsbuild-inventory-'));
  try {
    await copyFile(join(repoRoot, 'test/fixtures/sites/dr-tcp-pair.yaml'), join(dir, 'pair.yaml'));
    await copyFile(join(repoRoot, 'test/fixtures/sites/nat-single.yaml'), join(dir, 'single.yaml'));
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The error of loading `text` as <dir>/inv.yaml; fails the test when it loads. */
async function loadError(dir: string, text: string): Promise<string> {
  const file = join(dir, 'inv.yaml');
  await writeFile(file, text);
  try {
    await loadInventory(file, ctx(dir));
  } catch (err) {
    assert.ok(err instanceof UserError, String(err));
    assert.equal(err.exitCode, 1);
    assert.ok(!err.message.includes('\n'), 'one line');
    return err.message.replace(`${dir}/`, '');
  }
  assert.fail('expected the inventory to be refused');
}

function parseError(text: string): string {
  try {
    parseInventory(text, 'inv.yaml');
  } catch (err) {
    assert.ok(err instanceof UserError, String(err));
    assert.ok(!err.message.includes('\n'), 'one line');
    return err.message;
  }
  assert.fail('expected the inventory to be refused');
}

const pairAndSingle = `boxes:
  - name: lb-a
    site: pair.yaml
    node: master
    host: admin@192.0.2.10:2222
    identity: keys/obs600
    known_hosts: keys/known_hosts
  - name: lb-b
    site: pair.yaml
    node: backup
    port: /dev/ttyUSB1
    baud: 9600
  - name: solo
    site: ./single.yaml
    host: "[2001:db8::1]"
    accept_new_host_key: true
    manifest: out/obs600/manifest.json
`;

test('each box becomes a BoxTarget by the same rules as --port/--host, paths taken from the inventory folder', async () => {
  await withDir(async (dir) => {
    const file = join(dir, 'inv.yaml');
    await writeFile(file, pairAndSingle);
    const inv = await loadInventory(file, ctx(dir));
    assert.deepEqual(
      inv.boxes.map((b) => ({ name: b.name, site: b.site, node: b.node, hostname: b.hostname, target: b.target, manifest: b.manifest })),
      [
        {
          name: 'lb-a',
          site: join(dir, 'pair.yaml'),
          node: 'master',
          hostname: 'lb1',
          target: {
            kind: 'ssh',
            target: { user: 'admin', host: '192.0.2.10', port: 2222 },
            knownHostsFile: join(dir, 'keys/known_hosts'),
            hostKeyAlias: 'lb1',
            acceptNewHostKey: false,
            identityFile: join(dir, 'keys/obs600'),
          },
          manifest: undefined,
        },
        {
          name: 'lb-b',
          site: join(dir, 'pair.yaml'),
          node: 'backup',
          hostname: 'lb2',
          target: { kind: 'serial', port: '/dev/ttyUSB1', baud: 9600, user: 'root', password: 'pw' },
          manifest: undefined,
        },
        {
          name: 'solo',
          site: join(dir, 'single.yaml'),
          node: undefined,
          hostname: 'obs600',
          target: {
            kind: 'ssh',
            target: { user: 'root', host: '2001:db8::1', port: 22 },
            knownHostsFile: join(dir, 'out', 'obs600', 'known_hosts'),
            hostKeyAlias: 'obs600',
            acceptNewHostKey: true,
            identityFile: undefined,
          },
          manifest: join(dir, 'out/obs600/manifest.json'),
        },
      ],
    );
    // Both nodes share one loaded site, read once.
    assert.equal(inv.boxes[0].loaded, inv.boxes[1].loaded);
  });
});

test('a serial box gets 115200 baud unless it says otherwise', () => {
  const [e] = parseInventory('boxes:\n  - { name: a, site: s.yaml, port: /dev/ttyS0 }\n', 'inv.yaml');
  assert.deepEqual(e.transport, { kind: 'serial', port: '/dev/ttyS0', baud: 115200 });
});

test('malformed boxes are refused with the file and the line of the problem', () => {
  const cases: [string, RegExp][] = [
    ['boxes:\n  - name: a\n    site: s.yaml\n', /^inv\.yaml:2: boxes\[0\]: give exactly one of host: \(SSH\) and port: \(serial console\)$/],
    ['boxes:\n  - name: a\n    site: s.yaml\n    host: h\n    port: /dev/ttyS0\n', /^inv\.yaml:2: .*exactly one of host:/],
    ['boxes:\n  - name: a\n    site: s.yaml\n    host: h\n    knownhosts: k\n', /^inv\.yaml:5: boxes\[0\]: unknown key "knownhosts": did you mean "known_hosts"\?$/],
    ['boxes:\n  - name: a\n    site: s.yaml\n    host: h\n    node: primary\n', /^inv\.yaml:5: boxes\[0\]\.node .*master or backup/],
    ['boxes:\n  - name: a\n    site: s.yaml\n    host: "root@h:99999"\n', /^inv\.yaml:4: boxes\[0\]\.host: .*port "99999" is not 1 to 65535/],
    ['boxes:\n  - name: a\n    site: s.yaml\n    host: "-oProxyCommand=x"\n', /^inv\.yaml:4: boxes\[0\]\.host: .*not a host name/],
    ['boxes:\n  - name: a\n    site: s.yaml\n    port: ttyUSB0\n', /^inv\.yaml:4: boxes\[0\]\.port: "ttyUSB0" is not an absolute path/],
    ['boxes:\n  - name: a\n    site: s.yaml\n    port: /dev/ttyS0\n    baud: 12.5\n', /^inv\.yaml:5: boxes\[0\]\.baud: not a baud rate/],
    ['boxes:\n  - name: a\n    site: s.yaml\n    host: h\n    baud: 9600\n', /^inv\.yaml:5: boxes\[0\]\.baud is for serial boxes/],
    ['boxes:\n  - name: a\n    site: s.yaml\n    port: /dev/ttyS0\n    identity: k\n', /^inv\.yaml:5: boxes\[0\]\.identity is for SSH boxes/],
    ['boxes:\n  - name: a\n    site: s.yaml\n    host: h\n    identity: \'k"ey\'\n', /^inv\.yaml:5: boxes\[0\]\.identity: contains '"'/],
    ['boxes: []\n', /^inv\.yaml:1: boxes: lists no box$/],
    ['boxes: {}\n', /^inv\.yaml:1: boxes .*a list/],
    ['- name: a\n', /^inv\.yaml:1: the inventory must be a YAML mapping/],
    ['boxes:\n  - name: a\n    name: b\n', /^inv\.yaml:3: not valid YAML/],
    ['boxes:\n  - { name: a, site: s.yaml, host: h }\n  - { name: b, site: s.yaml, host: g }\n  - { name: a, site: t.yaml, host: f }\n', /^inv\.yaml:4: boxes\[2\]\.name: "a" is already the name of the box at line 2$/],
  ];
  for (const [text, want] of cases) assert.match(parseError(text), want, text);
});

test('hostile values: names that are not file names, control characters, oversized input, alias bombs', () => {
  const box = (kv: string) => `boxes:\n  - name: a\n    site: s.yaml\n    host: h\n${kv}`;
  const cases: [string, RegExp][] = [
    ['boxes:\n  - { name: ../../etc/passwd, site: s.yaml, host: h }\n', /^inv\.yaml:2: boxes\[0\]\.name: must be 1 to 63 letters/],
    ['boxes:\n  - { name: .hidden, site: s.yaml, host: h }\n', /^inv\.yaml:2: boxes\[0\]\.name: must be/],
    ['boxes:\n  - { name: "a\\e[2Jb", site: s.yaml, host: h }\n', /^inv\.yaml:2: boxes\[0\]\.name: must be/],
    ['boxes:\n  - { name: 12, site: s.yaml, host: h }\n', /^inv\.yaml:2: boxes\[0\]\.name must be a name/],
    ['boxes:\n  - { name: a, site: "s\\n.yaml", host: h }\n', /^inv\.yaml:2: boxes\[0\]\.site: contains a control character/],
    ['boxes:\n  - { name: a, site: "", host: h }\n', /^inv\.yaml:2: boxes\[0\]\.site: must be a path .*not empty/],
    ['boxes:\n  - { name: a, site: s.yaml, port: "/dev/tty\\0S0" }\n', /^inv\.yaml:2: boxes\[0\]\.port: contains a control character/],
    [box(`    known_hosts: "${'x'.repeat(5000)}"\n`), /^inv\.yaml:5: boxes\[0\]\.known_hosts is longer than 4096/],
    [box('    __proto__: { polluted: 1 }\n'), /^inv\.yaml:5: boxes\[0\]: unknown key "__proto__"/],
    [`a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nboxes: [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n`, /^inv\.yaml: its YAML aliases .* expand to too much data/],
    [`boxes:\n${'  - { name: a, site: s.yaml, host: h }\n'.repeat(MAX_BOXES + 1)}`, new RegExp(`^inv\\.yaml:1: boxes: lists ${MAX_BOXES + 1} boxes; at most ${MAX_BOXES}`)],
    [`boxes: []\n#${'x'.repeat(MAX_INVENTORY_BYTES)}\n`, /^inv\.yaml: larger than 1 MiB; not an inventory$/],
  ];
  for (const [text, want] of cases) assert.match(parseError(text), want, text.slice(0, 200));
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
});

test('1000 boxes parse quickly (the checks are linear)', () => {
  const text = `boxes:\n${Array.from({ length: MAX_BOXES }, (_, i) => `  - { name: b${i}, site: s.yaml, host: "10.0.${i >> 8}.${i & 255}" }\n`).join('')}`;
  const start = performance.now();
  assert.equal(parseInventory(text, 'inv.yaml').length, MAX_BOXES);
  assert.ok(performance.now() - start < 2000, `took ${performance.now() - start} ms`);
});

test('two entries for one box are refused: same serial port (also through a link), same SSH address, same node', async () => {
  await withDir(async (dir) => {
    await writeFile(join(dir, 'ttyA'), '');
    await symlink(join(dir, 'ttyA'), join(dir, 'by-id'));
    const cases: [string, RegExp][] = [
      [
        `boxes:\n  - { name: a, site: pair.yaml, node: master, port: /dev/ttyUSB0 }\n  - { name: b, site: pair.yaml, node: backup, port: /dev/ttyUSB0 }\n`,
        /^inv\.yaml:3: box "b": port \/dev\/ttyUSB0 is already box "a" \(line 2\); one entry per box$/,
      ],
      [
        `boxes:\n  - { name: a, site: pair.yaml, node: master, port: ${dir}/ttyA }\n  - { name: b, site: pair.yaml, node: backup, port: ${dir}/by-id }\n`,
        /^inv\.yaml:3: box "b": port .*by-id is already box "a" \(line 2\)/,
      ],
      [
        `boxes:\n  - { name: a, site: pair.yaml, node: master, host: "root@LB.example" }\n  - { name: b, site: pair.yaml, node: backup, host: "admin@lb.example:22" }\n`,
        /^inv\.yaml:3: box "b": host lb\.example port 22 is already box "a" \(line 2\)/,
      ],
      [
        `boxes:\n  - { name: a, site: pair.yaml, node: master, host: h1 }\n  - { name: b, site: ./pair.yaml, node: master, host: h2 }\n`,
        /^inv\.yaml:3: box "b": site .*pair\.yaml node master is already box "a" \(line 2\)/,
      ],
      [`boxes:\n  - { name: a, site: single.yaml, host: h1 }\n  - { name: b, site: single.yaml, host: h2 }\n`, /^inv\.yaml:3: box "b": site .*single\.yaml is already box "a"/],
    ];
    for (const [text, want] of cases) assert.match(await loadError(dir, text), want, text);
  });
});

test('a link to a site file is that file: one box per site, and a pair stays one pair (backup first)', async () => {
  await withDir(async (dir) => {
    await symlink(join(dir, 'single.yaml'), join(dir, 'single-link.yaml'));
    await symlink(join(dir, 'pair.yaml'), join(dir, 'pair-link.yaml'));
    assert.match(
      await loadError(dir, `boxes:\n  - { name: a, site: single.yaml, host: h1 }\n  - { name: b, site: single-link.yaml, host: h2 }\n`),
      /^inv\.yaml:3: box "b": site .*single-link\.yaml is already box "a" \(line 2\); one entry per box$/,
    );
    const file = join(dir, 'inv.yaml');
    await writeFile(file, `boxes:\n  - { name: m, site: pair-link.yaml, node: master, host: h1 }\n  - { name: b, site: pair.yaml, node: backup, host: h2 }\n`);
    const { boxes } = await loadInventory(file, ctx(dir));
    assert.equal(boxes[0].site, boxes[1].site, 'both nodes name one site file, so apply orders them as one pair');
  });
});

test('node is required for an HA pair site and refused for a single one; a bad site file names the box', async () => {
  await withDir(async (dir) => {
    assert.match(await loadError(dir, 'boxes:\n  - name: a\n    site: pair.yaml\n    host: h\n'), /^inv\.yaml:2: box "a": .*pair\.yaml is an HA pair; give node: master or node: backup$/);
    assert.match(await loadError(dir, 'boxes:\n  - { name: a, site: single.yaml, node: backup, host: h }\n'), /^inv\.yaml:2: box "a": node: is only for an HA pair site/);
    assert.match(await loadError(dir, 'boxes:\n  - { name: a, site: missing.yaml, host: h }\n'), /^inv\.yaml:2: box "a": .*missing\.yaml: cannot read the site file: ENOENT/);
    await writeFile(join(dir, 'broken.yaml'), 'lvs: [\n');
    assert.match(await loadError(dir, 'boxes:\n  - { name: a, site: broken.yaml, host: h }\n'), /^inv\.yaml:2: box "a": .*broken\.yaml:\d+: not valid YAML/);
  });
});

test('an unreadable or oversized inventory file is one line naming it', async () => {
  await withDir(async (dir) => {
    await assert.rejects(loadInventory(join(dir, 'nope.yaml'), ctx(dir)), (err: Error) => err instanceof UserError && /nope\.yaml: cannot read the inventory: ENOENT$/.test(err.message));
    await assert.rejects(loadInventory('/dev/zero', ctx(dir)), (err: Error) => err instanceof UserError && /^\/dev\/zero: larger than 1 MiB; not an inventory$/.test(err.message));
  });
});

test('an inventory box and the --host/--port options of one box give the same BoxTarget', async () => {
  const { boxTargetFromOptions } = await import('../../src/commands/box-target.js');
  await withDir(async (dir) => {
    const file = join(dir, 'inv.yaml');
    await writeFile(file, `boxes:\n  - { name: a, site: pair.yaml, node: master, host: "192.0.2.1:2200", accept_new_host_key: true }\n  - { name: b, site: pair.yaml, node: backup, port: /dev/ttyS1, baud: 57600 }\n`);
    const [ssh, serial] = (await loadInventory(file, ctx(dir))).boxes;
    const outDir = join(dir, 'out');
    assert.deepEqual(ssh.target, boxTargetFromOptions({ host: '192.0.2.1:2200', acceptNewHostKey: true }, { outDir, hostname: 'lb1' }));
    assert.deepEqual(serial.target, boxTargetFromOptions({ port: '/dev/ttyS1', baud: '57600', user: 'root', password: 'pw' }, { outDir, hostname: 'lb2' }));
  });
});

test('a !!binary inventory is refused as not a mapping, in one short line', () => {
  const message = parseError('!!binary aGVsbG8=\n');
  assert.match(message, /^inv\.yaml:1: the inventory must be a YAML mapping/);
  assert.ok(message.length < 200, message);
});

test('two boxes with one hostname (a copied site file) are refused: their host keys and logs would be shared', async () => {
  const { mkdtemp, rm, writeFile: write, readFile: read } = await import('node:fs/promises');
  const { tmpdir } = await import('node:os');
  const { join: j } = await import('node:path');
  const { loadInventory } = await import('../../src/daytwo/inventory-file.js');
  const dir = await mkdtemp(j(tmpdir(), 'obsbuild-inv-host-'));
  try {
    const { DEFAULT_VOBS_SITE } = await import('../../src/vobs/flow.js');
    const text = await read(DEFAULT_VOBS_SITE, 'utf8');
    await write(j(dir, 'a.yaml'), text);
    await write(j(dir, 'b.yaml'), text);
    await write(j(dir, 'inv.yaml'), 'boxes:\n  - { name: one, site: a.yaml, host: h1 }\n  - { name: two, site: b.yaml, host: h2 }\n');
    await assert.rejects(loadInventory(j(dir, 'inv.yaml'), { outDir: j(dir, 'out'), serialUser: 'root' }), /inv\.yaml:3: box "two": hostname obs600 is already box "one"/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
