import { test } from 'node:test';
import assert from 'node:assert/strict';
import { unifiedDiff, DIFF_MAX_BYTES, DIFF_MAX_LINES } from '../../src/util/unified-diff.js';

test('unified diff names the path on both sides and shows the changed line', () => {
  const d = unifiedDiff('/etc/hosts', 'a\nb\nc\n', 'a\nB\nc\n');
  assert.equal(d, '--- box/etc/hosts\n+++ site/etc/hosts\n@@ -1,3 +1,3 @@\n a\n-b\n+B\n c\n');
});

test('binary and oversized content get one line, not bytes', () => {
  assert.match(unifiedDiff('/x', Buffer.from([1, 0, 2]), 'x'), /^\/x: binary content, diff not shown\n$/);
  assert.match(unifiedDiff('/x', 'a'.repeat(DIFF_MAX_BYTES + 1), 'x'), /larger than/);
});

test('a long patch is cut and says how much is left out', () => {
  const have = Array.from({ length: 400 }, (_, i) => `line ${i}`).join('\n') + '\n';
  const d = unifiedDiff('/x', have, '');
  const lines = d.trimEnd().split('\n');
  assert.equal(lines.length, DIFF_MAX_LINES + 1);
  assert.match(lines[lines.length - 1], /^\.\.\. \d+ more line\(s\)$/);
});
