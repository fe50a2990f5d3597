import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { compareVersions, satisfiesVersion } from '../../src/debian/version.js';

/** A small deterministic PRNG so a failure names a reproducible pair. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function randomVersion(rand: () => number): string {
  const pick = <T>(xs: T[]): T => xs[Math.floor(rand() * xs.length)];
  const piece = () => {
    let out = '';
    const n = 1 + Math.floor(rand() * 4);
    for (let i = 0; i < n; i++) {
      out += pick([
        String(Math.floor(rand() * 12)),
        pick(['0', '00', '01', '10', '9', '100']),
        pick(['a', 'b', 'z', 'A', 'Z']),
        '.', '+', '~', '~~', pick(['rc', 'beta', 'lenny', 'dfsg']),
      ]);
    }
    return out;
  };
  const epoch = rand() < 0.2 ? `${pick([0, 1, 2, 10])}:` : '';
  // Upstream starts with a digit, as dpkg requires; a hyphen inside it needs a revision.
  let upstream = `${Math.floor(rand() * 4)}${piece()}`;
  const revision = rand() < 0.6 ? pick(['1', '2', '0', '1lenny1', '1+b1', '2.1', '1~bpo1', piece().replace(/[^A-Za-z0-9.+~]/g, '') || '1']) : '';
  if (revision && rand() < 0.15) upstream += `-${piece()}`;
  return `${epoch}${upstream}${revision ? `-${revision}` : ''}`;
}

const KNOWN: [string, string, number][] = [
  ['1.0', '1.0-0', 0],
  ['1.0~rc1', '1.0', -1],
  ['1.0~~', '1.0~', -1],
  ['1.0~', '1.0', -1],
  ['1.0', '1.0+b1', -1],
  ['1:1.24-2.1', '1.26-1', 1],
  ['1.1.15-1', '1.1.15-1lenny1', -1],
  ['0.9.8g-15+lenny8', '0.9.8f', 1],
  ['2.7-18lenny7', '2.7-1', 1],
  ['1.001', '1.1', 0],
  ['1.0a', '1.0+', -1],
  ['1.0', '1.0.0', -1],
  ['0:1.0', '1.0', 0],
];

test('version comparison matches known dpkg results (epochs, tildes, revisions, leading zeros)', () => {
  for (const [a, b, sign] of KNOWN) {
    assert.equal(Math.sign(compareVersions(a, b)), sign, `${a} vs ${b}`);
    assert.equal(Math.sign(compareVersions(b, a)), sign === 0 ? 0 : -sign, `${b} vs ${a}`);
  }
});

test('version comparison agrees with `dpkg --compare-versions` on 2500 generated pairs', () => {
  const rand = rng(20260412);
  const pairs: [string, string][] = [];
  for (let i = 0; i < 2500; i++) {
    const a = randomVersion(rand);
    // Half the pairs are near-misses of each other, where the interesting rules decide.
    const b = rand() < 0.5 ? randomVersion(rand) : a.replace(/\d/, (d) => String((Number(d) + 1) % 10)).replace(/~$/, '');
    pairs.push([a, rand() < 0.1 ? a : b]);
  }
  // One shell process runs all comparisons: far faster than one spawn per pair from Node.
  const script = `while read -r a b; do
    dpkg --compare-versions "$a" lt "$b" 2>/dev/null; r=$?
    if [ $r -eq 0 ]; then echo '<';
    elif [ $r -ne 1 ]; then echo 'invalid';
    elif dpkg --compare-versions "$a" eq "$b"; then echo '=';
    else echo '>'; fi
  done`;
  const out = execFileSync('sh', ['-c', script], { input: pairs.map(([a, b]) => `${a} ${b}`).join('\n') + '\n', maxBuffer: 1 << 24 })
    .toString()
    .trim()
    .split('\n');
  assert.equal(out.length, pairs.length);
  const mismatches: string[] = [];
  let compared = 0;
  pairs.forEach(([a, b], i) => {
    if (out[i] === 'invalid') return; // a generated string dpkg rejects: nothing to compare against
    compared++;
    const c = compareVersions(a, b);
    const ours = c < 0 ? '<' : c === 0 ? '=' : '>';
    if (ours !== out[i]) mismatches.push(`${a} ${out[i]} ${b} per dpkg, we say ${ours}`);
  });
  assert.deepEqual(mismatches.slice(0, 10), []);
  assert.ok(compared >= 2000, `only ${compared} valid pairs`);
  // The generator must actually exercise all three outcomes.
  for (const sign of ['<', '=', '>']) assert.ok(out.filter((o) => o === sign).length > 100, `too few '${sign}' pairs`);
});

test('relation operators follow dpkg, with < and > meaning <= and >=', () => {
  assert.ok(satisfiesVersion('0.9.8g-15', '>=', '0.9.8f'));
  assert.ok(!satisfiesVersion('0.9.8c-4', '>=', '0.9.8f'));
  assert.ok(satisfiesVersion('1.0', '<<', '1.0.1'));
  assert.ok(!satisfiesVersion('1.0', '<<', '1.0'));
  assert.ok(satisfiesVersion('1.0', '<=', '1.0'));
  assert.ok(satisfiesVersion('1:1.0', '>>', '9.9'));
  assert.ok(satisfiesVersion('1.0-0', '=', '1.0'));
});
