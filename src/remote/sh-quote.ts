/** One POSIX shell word holding `value` verbatim: single quotes, each `'` written as `'\''`. */
export function shQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
