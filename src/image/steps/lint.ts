import { lintSite } from '../../lvs/lint.js';
import { UserError, located } from '../../util/errors.js';
import type { Finding } from '../../contracts/finding.js';
import type { BuildState, Step } from '../pipeline.js';

/** Topology and dialect checks; any error stops the build, warnings are passed on. */
export const lintStep: Step<BuildState> = {
  name: 'lint',
  async run(state, progress) {
    const loaded = state.loaded!;
    const findings: Finding[] = lintSite(loaded);
    state.findings = findings;
    for (const f of findings.filter((f) => f.severity === 'warning')) {
      const text = located(loaded.file, f.line, `warning: ${f.message}`);
      state.warnings.push(text);
      progress.warn(text);
    }
    const errors = findings.filter((f) => f.severity === 'error');
    if (errors.length > 0) {
      const more = errors.length > 1 ? ` (and ${errors.length - 1} more: run \`obsbuild lint --site ${loaded.file}\`)` : '';
      throw new UserError(located(loaded.file, errors[0].line, errors[0].message) + more, { code: 'site-invalid' });
    }
  },
};
