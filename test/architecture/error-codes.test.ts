/**
 * Every UserError in src/ says what kind of problem it is: each `new UserError(...)` (and each subclass that
 * does not set a code itself) passes a `code:`, so no failure falls back to the catch-all 'user-error'
 * unnoticed. Checked on the source text, from `new UserError(` to its matching close paren, so calls that run
 * over several lines count.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { repoRoot } from '../helpers/cli.js';

const srcDir = join(repoRoot, 'src');
const EXEMPT: string[] = [];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** A `/` in code starts a regular expression (not a division) after one of these. */
const BEFORE_REGEX = new Set(['(', ',', '=', ':', '[', '!', '&', '|', '?', '{', '}', ';', '+', '-', '*', '%', '<', '>', '~', '^', '']);

/**
 * Index of the bracket that closes the one at `open` (`(` or `{`), skipping strings, template literals (with
 * nested `${...}`), comments and regular expressions, so a paren inside a message does not end the call early.
 */
function matchingClose(text: string, open: number): number {
  const pairs: Record<string, string> = { '(': ')', '{': '}', '[': ']' };
  const stack: string[] = [];
  // Each frame: a template literal, or code (the outer call, or a `${` inside a template).
  const frames: ('tpl' | 'code')[] = ['code'];
  let prev = '';
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (frames[frames.length - 1] === 'tpl') {
      if (c === '\\') i++;
      else if (c === '`') {
        frames.pop();
        prev = '`';
      } else if (c === '$' && text[i + 1] === '{') {
        frames.push('code');
        stack.push('${');
        i++;
        prev = '{';
      }
      continue;
    }
    if (c === "'" || c === '"') {
      for (i++; i < text.length && text[i] !== c; i++) if (text[i] === '\\') i++;
      prev = c;
      continue;
    }
    if (c === '`') {
      frames.push('tpl');
      continue;
    }
    if (c === '/' && text[i + 1] === '/') {
      i = text.indexOf('\n', i);
      if (i < 0) break;
      continue;
    }
    if (c === '/' && text[i + 1] === '*') {
      i = text.indexOf('*/', i + 2) + 1;
      if (i <= 0) break;
      continue;
    }
    if (c === '/' && BEFORE_REGEX.has(prev)) {
      let inClass = false;
      for (i++; i < text.length; i++) {
        if (text[i] === '\\') i++;
        else if (text[i] === '[') inClass = true;
        else if (text[i] === ']') inClass = false;
        else if (text[i] === '/' && !inClass) break;
      }
      prev = '/';
      continue;
    }
    if (/\s/.test(c)) continue;
    prev = c;
    if (c in pairs) stack.push(c);
    else if (c === ')' || c === '}' || c === ']') {
      const top = stack.pop();
      if (top === '${') {
        frames.pop(); // back in the template literal
        continue;
      }
      if (top === undefined || pairs[top] !== c) throw new Error(`unbalanced ${c} at offset ${i}`);
      if (stack.length === 0) return i;
    }
  }
  throw new Error(`no match for the bracket at offset ${open}`);
}

/** Each `new <name>(...)` in `text`: its line and the call's text. */
function calls(text: string, name: string): { line: number; call: string }[] {
  const out: { line: number; call: string }[] = [];
  for (const m of text.matchAll(new RegExp(`\\bnew ${name}\\(`, 'g'))) {
    const open = m.index! + m[0].length - 1;
    out.push({ line: text.slice(0, m.index).split('\n').length, call: text.slice(m.index, matchingClose(text, open) + 1) });
  }
  return out;
}

/** The top-level `{ ... }` arguments of a call carry a `code:` key (the code of its class). */
const hasCode = (call: string): boolean => /[{,]\s*code:/.test(call);

/** Subclasses of UserError in the sources; those with a constructor must pass a code to super() themselves. */
function subclasses(files: Map<string, string>): { name: string; file: string; setsCode: boolean }[] {
  const out = [];
  for (const [file, text] of files) {
    for (const m of text.matchAll(/\bclass (\w+) extends UserError\s*\{/g)) {
      const body = text.slice(m.index! + m[0].length - 1, matchingClose(text, m.index! + m[0].length - 1) + 1);
      const supers = [...body.matchAll(/\bsuper\(/g)].map((s) => body.slice(s.index!, matchingClose(body, s.index! + 5) + 1));
      out.push({ name: m[1], file, setsCode: supers.length > 0 && supers.every(hasCode) });
    }
  }
  return out;
}

function missingCodes(files: Map<string, string>): string[] {
  const constructors = ['UserError', ...subclasses(files).filter((c) => !c.setsCode).map((c) => c.name)];
  const missing: string[] = [];
  for (const [file, text] of files) {
    for (const name of constructors) {
      for (const c of calls(text, name)) if (!hasCode(c.call)) missing.push(`${file}:${c.line}: ${c.call.replace(/\s+/g, ' ').slice(0, 160)}`);
    }
  }
  return missing;
}

const files = new Map(
  sourceFiles(srcDir)
    .map((f) => relative(srcDir, f))
    .filter((f) => !EXEMPT.some((e) => f.startsWith(e)))
    .map((f) => [f, readFileSync(join(srcDir, f), 'utf8')] as const),
);

test('every UserError in src/ passes the code of its class', () => {
  // First the scan itself, on calls that run over lines, parens and quotes inside messages, regular expressions.
  const sample = new Map([
    [
      'sample.ts',
      [
        "throw new UserError(`${a}: (${b.map((x) => `'${x})`).join(')')}`, { code: 'site-invalid' });",
        'throw new UserError(',
        "  located(file, line, 'a message with a ) in it'),",
        ');',
        "const re = /[)'(]/; throw new UserError(`${path.replace(/\\(/g, '')}`, { cause: e });",
        'class OwnError extends UserError {}',
        "throw new OwnError('x');",
        "class Coded extends UserError { constructor() { super('y', { code: 'tool-failed' }); } }",
        "throw new Coded();",
      ].join('\n'),
    ],
  ]);
  assert.deepEqual(
    missingCodes(sample).map((m) => m.split(':').slice(0, 2).join(':')),
    ['sample.ts:2', 'sample.ts:5', 'sample.ts:7'],
  );
  const found = [...files.values()].reduce((n, text) => n + calls(text, 'UserError').length, 0);
  assert.ok(found > 100, `only ${found} UserError calls found: the scan is broken`);
  assert.deepEqual(missingCodes(files), [], "give each a { code: '...' } from src/contracts/error-codes.ts");
});
