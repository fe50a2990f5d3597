import { readFileSync } from 'node:fs';

/**
 * The one template renderer for what runs on the box. Placeholders are `@@NAME@@`; a template that names a
 * value the caller did not give, or a value the template never uses, is a programming error caught on the
 * first render, so a renamed placeholder can never ship as literal text inside a script.
 */
export function renderTemplate(name: string, values: Readonly<Record<string, string>>): string {
  const text = readFileSync(new URL(`./${name}`, import.meta.url), 'utf8');
  const used = new Set<string>();
  const out = text.replace(/@@([A-Z0-9_]+)@@/g, (_whole, key: string) => {
    const value = values[key];
    if (value === undefined) throw new Error(`box template ${name}: no value for @@${key}@@`);
    used.add(key);
    return value;
  });
  const unused = Object.keys(values).filter((key) => !used.has(key));
  if (unused.length > 0) throw new Error(`box template ${name}: values never used: ${unused.join(', ')}`);
  if (out.includes('@@')) throw new Error(`box template ${name}: a malformed placeholder is left`);
  return out;
}
