import { lintSite } from '../../lvs/lint.js';
import { UserError, located } from '../../util/errors.js';
import type { Finding } from '../../contracts/finding.js';
import type { LoadedSite } from '../../site/load.js';
import type { Step } from '../recipe.js';
import { lintSiteFiles } from '../site-files.js';

/** Topology and dialect checks; any error stops the build, warnings are passed on. */
export const lintStep: Step<{ loaded: LoadedSite; warnings: string[] }, { findings: Finding[] }> = {
  name: 'lint',
  async run({ loaded, warnings }, progress) {
    const findings: Finding[] = [...lintSite(loaded), ...lintSiteFiles(loaded)];
    for (const f of findings.filter((f) => f.severity === 'warning')) {
      const text = located(loaded.file, f.line, `warning: ${f.message}`);
      warnings.push(text);
      progress.warn(text);
    }
    const errors = findings.filter((f) => f.severity === 'error');
    if (errors.length > 0) {
      const more = errors.length > 1 ? ` (and ${errors.length - 1} more: run \`obsbuild lint --site ${loaded.file}\`)` : '';
      throw new UserError(located(loaded.file, errors[0].line, errors[0].message) + more, { code: 'site-invalid' });
    }
    return { findings };
  },
};
