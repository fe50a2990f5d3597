/** One lint or build finding about the site file: the rule it broke, where, and what to change. */
export interface Finding {
  severity: 'error' | 'warning';
  rule: string;
  /** Line in the site file, when the finding is about one key. */
  line?: number;
  message: string;
}
